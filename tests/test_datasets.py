"""Data sets beyond digits: the simulated event set, re-binning to T, the event-input cost
model, .npz files (round trip and bad files) and N-MNIST / DVS Gesture in their on-disk formats."""

import math
import sys
import zipfile

import numpy as np
import optuna
import pytest
import torch

from cost_models.network import layer_specs
from cost_models.report import evaluate
from cost_models.screen import screen
from cost_models.targets import load_target
from dse.training.data import INPUT_GAIN, check_dataset_name, load_dataset
from dse.training.datasets.dvs_sim import OFF, ON, DvsSensor, simulate_dvs
from dse.training.datasets.frames import rebin_frames
from dse.training.datasets.saccades import FRAMES, digits_saccade_frames, saccade_path, translate
from dse.errors import UserError
from dse.training.model import build_model
from dse.search.runner import run_search
from dse.training.train import Fidelity, train_candidate
from search_spaces.candidate import Candidate

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def dvs():
    return load_dataset("digits-dvs", seed=0)


def event_candidate(data, widths=(64,), timesteps=4, **kw):
    return Candidate(
        family="mlp", widths=widths, weight_bits=(8,) * (len(widths) + 1), membrane_bits=(16,) * len(widths),
        timesteps=timesteps, input_shape=data.input_shape, num_classes=data.num_classes,
        input_kind=data.input_kind, **kw,
    )


# ---- the simulated event camera -------------------------------------------------------------


def test_dvs_pixel_emits_one_event_per_threshold_crossed():
    # one pixel goes dark -> lit -> dark; threshold 0.25 exactly (no mismatch, no noise)
    sensor = DvsSensor(threshold=0.25, threshold_sigma=0.0, noise_rate=0.0, dark_intensity=0.05)
    intensity = np.zeros((3, 1, 1, 2), dtype=np.float32)
    intensity[1, 0, 0, 0] = 1.0
    counts = simulate_dvs(intensity, sensor, np.random.default_rng(0))
    assert counts.shape == (1, 2, 2, 1, 2)  # [N, steps, polarity, H, W]
    crossings = math.floor(math.log(1.0 / 0.05) / 0.25)  # ln 20 / 0.25 = 11.98 -> 11
    assert counts[0, 0, ON, 0, 0] == crossings and counts[0, 0, OFF, 0, 0] == 0
    assert counts[0, 1, OFF, 0, 0] == crossings and counts[0, 1, ON, 0, 0] == 0
    assert counts[..., 1].sum() == 0  # the pixel that never changes stays silent


def test_translate_is_bilinear_interpolation_with_zeros_shifted_in():
    from scipy import ndimage

    canvas = np.random.default_rng(0).random((3, 20, 20)).astype(np.float32)
    for dy, dx in saccade_path():
        want = ndimage.shift(canvas, (0, dy, dx), order=1, mode="grid-constant", cval=0.0)
        np.testing.assert_allclose(translate(canvas, dy, dx), want, atol=1e-6)


def test_saccade_path_is_n_mnist_triangle_back_to_start():
    path = saccade_path()
    assert len(path) == FRAMES + 1 == 25
    assert tuple(path[0]) == tuple(path[-1]) == (0.0, 0.0)
    assert tuple(path[8]) == (4.0, 2.0) and tuple(path[16]) == (0.0, 4.0)


# ---- digits-dvs -----------------------------------------------------------------------------


def test_event_set_shape_kind_and_steps(dvs):
    assert dvs.name == "digits-dvs" and dvs.input_kind == "events"
    assert dvs.input_shape == (2, 20, 20) and dvs.frames == 24 and dvs.in_step == 1.0
    assert dvs.num_classes == 10
    assert (len(dvs.train), len(dvs.val), len(dvs.test)) == (1077, 360, 360)
    for split in (dvs.train, dvs.val, dvs.test):
        assert split.x.dtype == torch.uint8 and tuple(split.x.shape[1:]) == (24, 2, 20, 20)
        assert set(torch.unique(split.x).tolist()) == {0, 1}


def test_event_set_has_both_polarities_in_every_sample(dvs):
    x = dvs.train.x
    off_per_sample = x[:, :, OFF].flatten(1).sum(1)
    on_per_sample = x[:, :, ON].flatten(1).sum(1)
    assert int(off_per_sample.min()) > 0 and int(on_per_sample.min()) > 0
    # a moving bright digit: leading edges brighten (ON), trailing edges darken (OFF), in similar numbers
    assert 0.5 < float(on_per_sample.sum()) / float(off_per_sample.sum()) < 2.0
    assert 0.01 < dvs.event_rate() < 0.5


def test_event_set_is_deterministic_by_seed(dvs):
    frames, labels = digits_saccade_frames(0)  # generated a second time: the fixture made the first
    other, _ = digits_saccade_frames(1)
    assert not np.array_equal(frames, other)  # thresholds and noise follow the seed
    generated = sorted(row.tobytes() + bytes([label]) for row, label in zip(frames.reshape(len(frames), -1), labels))
    loaded = sorted(
        row.tobytes() + bytes([label])
        for split in (dvs.train, dvs.val, dvs.test)
        for row, label in zip(split.x.numpy().reshape(len(split), -1), split.y.tolist())
    )
    assert generated == loaded  # the same frames and labels, only split


def test_event_set_classes_are_balanced_and_splits_stratified(dvs):
    counts = {name: np.bincount(s.y.numpy(), minlength=10) for name, s in (("train", dvs.train), ("val", dvs.val), ("test", dvs.test))}
    total = sum(counts.values())
    assert total.sum() == 1797 and total.min() >= 174 and total.max() <= 183  # digits: 174..183 per class
    for name, c in counts.items():
        share = c / c.sum()
        assert np.abs(share - total / total.sum()).max() < 0.01, name


def test_small_mlp_beats_chance_on_the_event_set_in_two_epochs(dvs):
    result = train_candidate(event_candidate(dvs), dvs, Fidelity(epochs=2), seed=0, device=torch.device("cpu"))
    assert result.accuracy > 0.5  # chance is 0.1
    assert result.activity.layers["layer0"].input_events.shape == (800,)  # per input position


# ---- frames to timesteps ----------------------------------------------------------------------


def test_rebin_frames_ors_adjacent_frames_and_keeps_time_when_t_exceeds_frames():
    x = torch.zeros(6, 1, 2)  # [F, B, features]
    x[0, 0, 0] = x[1, 0, 0] = 1  # two events in frames 0 and 1 at feature 0
    x[5, 0, 1] = 1
    assert torch.equal(rebin_frames(x, 6), x)
    three = rebin_frames(x, 3)  # frames (0,1), (2,3), (4,5)
    assert three[:, 0, 0].tolist() == [1, 0, 0] and three[:, 0, 1].tolist() == [0, 0, 1]
    four = rebin_frames(x, 4)  # floor(i * 4 / 6) = 0, 0, 1, 2, 2, 3
    assert four[:, 0, 0].tolist() == [1, 0, 0, 0] and four[:, 0, 1].tolist() == [0, 0, 0, 1]
    twelve = rebin_frames(x, 12)  # frame i -> step 2i, odd steps empty
    assert twelve[:, 0, 0].tolist() == [1, 0, 1] + [0] * 9 and twelve[10, 0, 1] == 1
    assert twelve.sum() == 3


def test_event_model_takes_frames_and_refuses_static_batches(dvs):
    model = build_model(event_candidate(dvs, timesteps=6))
    out = model(dvs.train.x[:5])
    assert tuple(out.shape) == (6, 5, 10)
    with pytest.raises(ValueError, match="frames"):
        model(torch.zeros(5, 2, 20, 20))


# ---- the cost model for event input ------------------------------------------------------------


def test_event_input_layer_zero_is_accumulate_only(dvs):
    events = event_candidate(dvs)
    static = Candidate(**{**events.to_dict(), "input_kind": "static", "input_shape": (2, 20, 20)})
    l0_events, l0_static = layer_specs(events)[0], layer_specs(static)[0]
    assert l0_events.input_is_spike and l0_events.input_bits == 1
    assert not l0_static.input_is_spike and l0_static.input_bits == 8
    target = load_target("fpga-small")
    # measured activity: layer 0's ACs are its input events x fan-out, no MACs
    result = train_candidate(events, dvs, Fidelity(epochs=1), seed=0, device=torch.device("cpu"))
    report = evaluate(events, target, result.activity)
    layer0 = report.layers[0]
    measured_events = float(result.activity.layers["layer0"].input_events.sum())
    assert layer0.macs == 0
    assert layer0.input_events == pytest.approx(measured_events)
    assert layer0.acs == pytest.approx(measured_events * 64)
    # hand count: mean events per validation sample at T=4 (frames OR-ed in groups of six)
    val_steps = rebin_frames(dvs.val.x.transpose(0, 1), 4)
    assert measured_events == pytest.approx(float(val_steps.sum()) / len(dvs.val))
    static_report = evaluate(static, target, None)
    assert static_report.layers[0].macs == 4 * 800 * 64
    # no-training lower bound: no events at all, so below the static candidate's dense layer 0
    assert screen(events, target, {}).report.layers[0].acs == 0
    assert screen(events, target, {}).report.energy_mj < static_report.energy_mj


def test_search_on_the_event_set_builds_event_candidates(make_settings, dvs):
    settings = make_settings(study_name="ev", trials=2, sampler="tpe", dataset="digits-dvs")
    study = run_search(settings, dvs, "cpu")
    done = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 2 and all(t.user_attrs["status"] == "trained" for t in done)
    for t in done:
        assert t.user_attrs["candidate"]["input_kind"] == "events"
        assert t.user_attrs["cost"]["layers"][0]["macs"] == 0


# ---- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist2", "npz", "npz:", "csv:data.csv", "digits:x", "shd:x"])
def test_unknown_dataset_names_are_refused_listing_accepted_forms(name):
    with pytest.raises(UserError) as err:
        check_dataset_name(name)
    assert "\n" not in str(err.value)
    assert ("accepted: digits, digits-dvs, digits-dvs34, mnist, fashion-mnist, nmnist, shd, dvsgesture, cifar10-dvs, "
            "npz:PATH, nmnist:PATH, dvsgesture:PATH") in str(err.value)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "nmnist", "shd", "dvsgesture", "cifar10-dvs"])
def test_named_sets_are_accepted_without_a_path(name):
    check_dataset_name(name)  # nothing is downloaded by the check


def test_missing_paths_are_refused(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        check_dataset_name(f"npz:{tmp_path / 'none.npz'}")
    with pytest.raises(UserError, match="no such folder"):
        check_dataset_name(f"nmnist:{tmp_path / 'none'}")


# ---- .npz files -------------------------------------------------------------------------------


def test_npz_static_uint8_images_keep_their_codes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 6, 5), dtype=np.uint8)
    x[0, 0, 0] = 255
    y = np.repeat(np.arange(3), 20)
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=y)
    data = load_dataset(f"npz:{path}", seed=0)
    assert data.input_kind == "static" and data.frames is None
    assert data.input_shape == (1, 6, 5) and data.num_classes == 3
    assert data.in_step == pytest.approx(INPUT_GAIN / 255)
    assert (len(data.train), len(data.val), len(data.test)) == (36, 12, 12)
    got = torch.cat([data.train.x, data.val.x, data.test.x]).numpy() / data.in_step
    np.testing.assert_allclose(np.sort(got.ravel()), np.sort(x.astype(np.float64).ravel()), atol=1e-4)


def test_npz_float_images_with_negatives_become_signed_8_bit(tmp_path):
    x = np.linspace(-2.0, 1.0, 40 * 4 * 4).reshape(40, 1, 4, 4).astype(np.float32)
    y = np.tile(np.arange(2), 20)
    path = tmp_path / "signed.npz"
    np.savez(path, x=x, y=y)
    data = load_dataset(f"npz:{path}", seed=0)
    assert data.input_shape == (1, 4, 4) and data.in_step == pytest.approx(INPUT_GAIN / 127)
    values = torch.cat([data.train.x, data.val.x, data.test.x])
    codes = values.numpy() / data.in_step
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)
    assert float(values.min()) == pytest.approx(-INPUT_GAIN) and float(values.max()) == pytest.approx(INPUT_GAIN / 2, abs=data.in_step)


def test_npz_event_frames_with_given_test_split_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(30, 5, 2, 4, 4), dtype=np.int64)  # counts 0..2
    y = np.tile(np.arange(3), 10)
    x_test = (rng.random((6, 5, 2, 4, 4)) < 0.1)
    y_test = np.tile(np.arange(3), 2)
    path = tmp_path / "events.npz"
    np.savez_compressed(path, x=x, y=y, x_test=x_test, y_test=y_test)
    data = load_dataset(f"npz:{path}", seed=0)
    assert data.input_kind == "events" and data.frames == 5 and data.input_shape == (2, 4, 4) and data.in_step == 1.0
    assert (len(data.train), len(data.val), len(data.test)) == (24, 6, 6)
    assert torch.equal(data.test.x, torch.from_numpy(x_test.astype(np.uint8)))
    assert set(torch.unique(data.train.x).tolist()) <= {0, 1}
    assert int(data.train.x.sum() + data.val.x.sum()) == int((x > 0).sum())
    model = build_model(event_candidate(data, widths=(8,), timesteps=5))
    assert tuple(model(data.train.x[:3]).shape) == (5, 3, 3)


def _bad_files(tmp_path):
    good = {"x": np.zeros((20, 4, 4), np.float32), "y": np.tile(np.arange(2), 10)}
    cases = {}

    def npz(name, **arrays):
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        cases[name] = path

    (tmp_path / "garbage.npz").write_bytes(b"this is not a zip archive at all\x00\x01")
    cases["garbage"] = tmp_path / "garbage.npz"
    np.savez(tmp_path / "whole.npz", **good)
    raw = (tmp_path / "whole.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    cases["truncated"] = tmp_path / "truncated.npz"
    np.save(tmp_path / "single.npy", good["x"])
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    cases["single"] = tmp_path / "single.npz"
    npz("no_y", x=good["x"])
    npz("unknown_key", **good, labels=good["y"])
    npz("nan", x=np.full((20, 4, 4), np.nan, np.float32), y=good["y"])
    npz("negative_label", x=good["x"], y=good["y"] - 1)
    npz("float_label", x=good["x"], y=good["y"].astype(np.float32))
    npz("flat", x=np.zeros((20, 16)), y=good["y"])
    npz("short_y", x=good["x"], y=good["y"][:5])
    npz("strings", x=np.full((20, 4, 4), "a"), y=good["y"])
    npz("one_class", x=good["x"], y=np.zeros(20, np.int64))
    npz("pickled", x=np.array([{"a": 1}] * 20, dtype=object), y=good["y"])
    npz("negative_events", x=-np.ones((20, 2, 2, 3, 3)), y=good["y"])
    npz("lonely_test", **good, x_test=good["x"])
    npz("one_per_class", x=good["x"][:2], y=np.arange(2))
    return cases


def test_bad_npz_files_end_in_one_line(tmp_path):
    for name, path in _bad_files(tmp_path).items():
        with pytest.raises(UserError) as err:
            load_dataset(f"npz:{path}", seed=0)
            pytest.fail(f"{name}: no UserError")
        message = str(err.value)
        assert "\n" not in message and message.startswith(f"npz:{path}"), (name, message)


def test_bad_npz_messages_say_what_is_accepted(tmp_path):
    cases = _bad_files(tmp_path)
    expect = {
        "garbage": "not a readable .npz file", "truncated": "not a readable .npz file",
        "single": "not an .npz archive", "no_y": "keys come in pairs", "unknown_key": "accepted: x, y",
        "nan": "NaN", "negative_label": "0..K-1", "float_label": "integer class labels",
        "flat": "accepted: static images", "short_y": "one label per sample", "strings": "accepted: bool, integer or float",
        "pickled": "not a readable .npz file", "negative_events": "negative", "lonely_test": "keys come in pairs",
        "one_per_class": "stratified", "one_class": "single class",
    }
    for name, fragment in expect.items():
        with pytest.raises(UserError, match=fragment):
            load_dataset(f"npz:{cases[name]}", seed=0)


def test_zip_with_a_damaged_member_is_refused(tmp_path):
    path = tmp_path / "damaged.npz"
    np.savez_compressed(path, x=np.random.default_rng(0).random((20, 8, 8)), y=np.tile(np.arange(2), 10))
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("x.npy")
    start = info.header_offset + 30 + len(info.filename) + 40  # inside x.npy's compressed bytes
    raw[start : start + 200] = bytes(200)
    path.write_bytes(bytes(raw))
    with pytest.raises(UserError, match="not a readable .npz file"):
        load_dataset(f"npz:{path}", seed=0)


# ---- N-MNIST and DVS Gesture on disk (tonic) ----------------------------------------------------


def write_nmnist_bin(path, events):
    """N-MNIST's 40-bit events: x (8 bits), y (8 bits), polarity (1 bit), timestamp (23 bits, us)."""
    raw = bytearray()
    for x, y, p, t in events:
        raw += bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(raw))


def nmnist_folder(root):
    """Train: 5 samples per class for classes 0 and 1; Test: 2 per class. Sample k of class c has an
    ON event at (x, y) = (3 + c, 4 + k) at t = 0 and an OFF event at (30, 31) at t = 2300 + k us."""
    for split, n in (("Train", 5), ("Test", 2)):
        for c in (0, 1):
            for k in range(n):
                write_nmnist_bin(root / split / str(c) / f"{k:05d}.bin", [(3 + c, 4 + k, 1, 0), (30, 31, 0, 2300 + k)])


def test_nmnist_bin_files_read_back_through_tonic(tmp_path):
    pytest.importorskip("tonic", reason="tonic (optional extra 'events') is not installed")
    from dse.training.datasets.tonic_sets import read_nmnist_events

    write_nmnist_bin(tmp_path / "a.bin", [(3, 4, 1, 0), (33, 0, 0, 70000), (5, 6, 1, 8_000_000)])
    events = read_nmnist_events(tmp_path / "a.bin", "nmnist:test")
    assert events["x"].tolist() == [3, 33, 5] and events["y"].tolist() == [4, 0, 6]
    assert events["p"].tolist() == [1, 0, 1] and events["t"].tolist() == [0, 70000, 8_000_000]


def test_nmnist_folder_loads_as_event_frames(tmp_path):
    pytest.importorskip("tonic", reason="tonic (optional extra 'events') is not installed")
    nmnist_folder(tmp_path / "NMNIST")
    data = load_dataset(f"nmnist:{tmp_path}", seed=0)  # tonic's save_to layout: PATH/NMNIST/Train
    assert data.input_kind == "events" and data.input_shape == (2, 34, 34) and data.frames == 24
    assert data.num_classes == 10 and (len(data.train), len(data.val), len(data.test)) == (8, 2, 4)
    x = data.test.x
    assert tuple(x.shape) == (4, 24, 2, 34, 34) and int(x.sum()) == 8  # two events per sample
    for i, label in enumerate(data.test.y.tolist()):
        on = torch.nonzero(x[i, :, ON]).tolist()
        off = torch.nonzero(x[i, :, OFF]).tolist()
        assert len(on) == 1 and on[0][0] == 0 and on[0][2] == 3 + label  # first frame, x = 3 + class
        assert off == [[23, 31, 30]]  # last frame, (y, x) = (31, 30)


def test_dvsgesture_npy_files_load_downsampled(tmp_path):
    pytest.importorskip("tonic", reason="tonic (optional extra 'events') is not installed")
    from numpy.lib import recfunctions
    from tonic.datasets import DVSGesture

    def sample(label, k):
        ev = np.zeros(3, dtype=DVSGesture.dtype)
        ev["x"], ev["y"] = [127, 4 * label, 0], [64, 8, 0]
        ev["p"], ev["t"] = [True, False, True], [0, 10 + k, 20 + k]  # ms, as in the preprocessed files
        return recfunctions.structured_to_unstructured(ev)  # what tonic's own tests write

    for split, n in (("ibmGestureTrain", 5), ("ibmGestureTest", 1)):
        for k in range(n):
            folder = tmp_path / "DVSGesture" / split / f"user{k + 1:02d}_fluorescent"
            folder.mkdir(parents=True, exist_ok=True)
            for label in (3, 7):
                np.save(folder / f"{label}.npy", sample(label, k))
    data = load_dataset(f"dvsgesture:{tmp_path / 'DVSGesture'}", seed=0)
    assert data.input_shape == (2, 32, 32) and data.num_classes == 11 and data.frames == 24
    assert (len(data.train), len(data.val), len(data.test)) == (8, 2, 2)
    for i, label in enumerate(data.test.y.tolist()):
        x = data.test.x[i]
        assert x[0, ON, 16, 31] == 1  # (127, 64) / 4
        assert x[:, OFF, 2, label].sum() == 1  # (4 * label, 8) / 4
        assert x[23, ON, 0, 0] == 1 and int(x.sum()) == 3


def test_bad_event_files_end_in_one_line(tmp_path):
    pytest.importorskip("tonic", reason="tonic (optional extra 'events') is not installed")
    root = tmp_path / "n"
    nmnist_folder(root)
    (root / "Train" / "0" / "00000.bin").write_bytes(b"\x01\x02\x03\x04\x05\x06\x07")
    with pytest.raises(UserError, match="5-byte") as err:
        load_dataset(f"nmnist:{root}", seed=0)
    assert "\n" not in str(err.value)
    write_nmnist_bin(root / "Train" / "0" / "00000.bin", [(40, 1, 1, 0)])
    with pytest.raises(UserError, match="outside the 34x34 sensor"):
        load_dataset(f"nmnist:{root}", seed=0)
    g = tmp_path / "g" / "ibmGestureTrain" / "user01_led"
    g.mkdir(parents=True)
    np.save(g / "0.npy", np.zeros((5, 3)))
    with pytest.raises(UserError, match=r"accepted: numeric \[events, 4\]"):
        load_dataset(f"dvsgesture:{tmp_path / 'g'}", seed=0)
    (g / "0.npy").write_bytes(b"garbage")
    with pytest.raises(UserError, match="not a readable .npy file"):
        load_dataset(f"dvsgesture:{tmp_path / 'g'}", seed=0)
    with pytest.raises(UserError, match="no folder Train/"):
        load_dataset(f"nmnist:{tmp_path / 'g'}", seed=0)


def test_event_sets_without_tonic_ask_for_the_extra(tmp_path, monkeypatch):
    nmnist_folder(tmp_path)
    monkeypatch.setitem(sys.modules, "tonic", None)  # import tonic -> ImportError
    with pytest.raises(UserError, match=r"optional extra 'events'"):
        load_dataset(f"nmnist:{tmp_path}", seed=0)


def test_conv_event_layer_zero_counts_events_per_position(dvs):
    from cost_models.ops import conv_fanout_map
    from dse.training.data import Split
    from dse.training.train import measure

    cand = Candidate(
        family="conv", widths=(4,), weight_bits=(4, 4), membrane_bits=(8,), timesteps=3, pooling=("max",),
        input_shape=dvs.input_shape, num_classes=10, input_kind="events",
    )
    torch.manual_seed(0)
    model = build_model(cand)
    sample = Split(dvs.val.x[:16], dvs.val.y[:16])
    _, activity, _, _ = measure(model, sample, batch_size=8)
    events = activity.layers["layer0"].input_events
    steps = rebin_frames(sample.x.transpose(0, 1), 3)  # [T, B, 2, 20, 20]
    np.testing.assert_allclose(events, steps.sum(dim=(0, 1)).numpy() / 16)
    report = evaluate(cand, load_target("fpga-small"), activity)
    fanout = conv_fanout_map(20, 20, 3, 1)  # output positions reading each input position
    assert report.layers[0].macs == 0
    assert report.layers[0].acs == pytest.approx(float((events.sum(axis=0) * fanout).sum()) * 4)
