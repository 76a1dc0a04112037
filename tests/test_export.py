"""Export formats (yaml, npz, nir, mem/coe, pt), trial artifacts and `dse export`, including every refusal."""

from __future__ import annotations

import argparse
import json
import os
import math
from pathlib import Path

import nir
import numpy as np
import optuna
import pytest
import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based.nir_exchange import import_from_nir

from cost_models.fpga import weight_memory
from cost_models.network import layer_specs
from cost_models.targets import load_target
from dse.cli import estimate
from dse.cli import export as export_command
from dse.training.artifacts import ARTIFACT_ID_ATTR, default_artifact_dir, load_model, read_checkpoint
from dse.errors import UserError
from dse.export import FORMATS, ExportContext, export_to, parse_formats
from dse.export.integer_network import integer_network
from dse.export.mem_format import memory_words, scale_words
from dse.export.nir_format import build_graph
from dse.export.npz_format import read_npz, write_npz
from dse.export.integer_sim import agreement, model_spikes, simulate
from dse.search.study import SearchSettings
from dse.search.runner import run_search
from dse.training.train import Fidelity, train_candidate
from search_spaces.candidate import Candidate
from search_spaces.space import SearchSpace

torch.set_num_threads(1)
MLP = Candidate("mlp", (24,), (4, 4), (6,), 3, parallelism=(5, 3))  # P does not divide 24 or 10: padded groups
CONV = Candidate("conv", (4, 6), (4, 1, 4), (8, 5), 2, pooling=("avg", "none"), parallelism=(3, 4, 2))
FLOAT_MEMBRANE = Candidate("mlp", (24,), (4, 4), (None,), 3)
FLOAT_MEMBRANE_CONV = Candidate("conv", (4,), (4, 4), (None,), 2, pooling=("avg",))


@pytest.fixture(scope="module")
def models(digits):
    out = {}
    for name, c in (("mlp", MLP), ("conv", CONV), ("float", FLOAT_MEMBRANE), ("float_conv", FLOAT_MEMBRANE_CONV)):
        out[name] = train_candidate(c, digits, Fidelity(epochs=1), seed=0, device=torch.device("cpu")).model.eval()
    return out


def _no_partial_folders(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- npz


def test_npz_round_trip_gives_the_same_network_and_spikes(models, digits, tmp_path):
    net = integer_network(models["conv"], 0.25, scale_bits="auto")
    path = write_npz(net, tmp_path / "net.npz")
    back = read_npz(path)
    assert [l.name for l in back.layers] == [l.name for l in net.layers]
    for a, b in zip(net.layers, back.layers):
        assert a.codes.dtype == b.codes.dtype == np.int8  # 4- and 1-bit codes in the smallest int dtype
        assert np.array_equal(a.codes, b.codes) and np.array_equal(a.multiplier, b.multiplier)
        assert np.array_equal(a.scale, b.scale)
        assert (a.scale_bits, a.threshold_lsb, a.leak_shift, a.membrane_bits, a.pool_after, a.in_step) == (
            b.scale_bits, b.threshold_lsb, b.leak_shift, b.membrane_bits, b.pool_after, b.in_step)
    assert back.candidate == CONV.to_dict() and back.timesteps == 2 and back.input_step == 0.25
    codes = (digits.test.x[:32] * 4).round().to(torch.int64).numpy()
    first, second = simulate(net, codes), simulate(back, codes)
    assert all(np.array_equal(a, b) for a, b in zip(first.spikes, second.spikes))
    assert np.array_equal(first.logits, second.logits)


def test_npz_keys_are_the_documented_ones(models, tmp_path):
    path = write_npz(integer_network(models["mlp"], 0.25, 32), tmp_path / "n.npz")
    with np.load(path) as data:
        keys = set(data.files)
        assert {"format", "timesteps", "input_step", "candidate", "layer0.codes", "layer0.multiplier",
                "layer0.threshold_lsb", "layer0.leak_shift", "layer0.membrane_bits", "layer1.scale"} <= keys
        assert int(data["layer0.threshold_lsb"]) == 16 and int(data["layer0.leak_shift"]) == 1
        assert int(data["layer1.membrane_bits"]) == -1  # the readout has no membrane


@pytest.mark.parametrize("content", [b"not a zip file at all", b"PK\x03\x04broken"])
def test_corrupt_npz_is_one_line(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(UserError, match="not a readable .npz") as info:
        read_npz(path)
    assert "\n" not in str(info.value)


def test_foreign_npz_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(UserError, match="not an integer-network .npz"):
        read_npz(path)


# ---------------------------------------------------------------- mem / coe


@pytest.mark.parametrize("name", ["mlp", "conv"])
def test_mem_width_and_depth_are_the_cost_models_weight_memory(models, name, tmp_path):
    model = models[name]
    net = integer_network(model, 0.25, "auto")
    export_to(ExportContext(model, "digits", "test"), ["mem"], tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "mem_manifest.json").read_text())
    for layer, spec, entry in zip(net.layers, layer_specs(model.candidate), manifest["layers"]):
        mapping = weight_memory(spec)
        p, w = spec.parallelism, spec.weight_bits
        depth = math.ceil(spec.out_channels / p) * spec.fan_in  # groups of P channels x inputs
        assert (entry["weights"]["width_bits"], entry["weights"]["depth"]) == (p * w, depth)
        assert (mapping.width, mapping.depth) == (p * w, depth)
        lines = (tmp_path / "out" / entry["weights"]["mem"]).read_text().splitlines()
        assert len(lines) == depth and {len(line) for line in lines} == {math.ceil(p * w / 4)}
        coe = (tmp_path / "out" / entry["weights"]["coe"]).read_text().splitlines()
        assert coe[1] == "memory_initialization_radix=16;" and coe[2] == "memory_initialization_vector="
        assert len(coe) == 3 + depth and coe[-1].endswith(";") and all(c.endswith(",") for c in coe[3:-1])
        assert [int(v.rstrip(",;"), 16) for v in coe[3:]] == [int(v, 16) for v in lines]
        scale_lines = (tmp_path / "out" / entry["scales"]["mem"]).read_text().splitlines()
        assert len(scale_lines) == math.ceil(spec.out_channels / p)
        assert entry["scales"]["width_bits"] == p * 17  # M < 2^17 at auto scale bits


def test_mem_words_decode_back_to_the_codes(models):
    net = integer_network(models["conv"], 0.25, 32)
    for layer in net.layers:
        words, width, depth = memory_words(layer)
        p, w = layer.parallelism, layer.weight_bits
        rows = layer.codes.reshape(layer.out_channels, -1)
        fan_in = rows.shape[1]
        for addr in (0, 1, depth - 1):
            g, j = divmod(addr, fan_in)
            for u in range(p):
                if g * p + u >= layer.out_channels:
                    assert (words[addr] >> (u * w)) & ((1 << w) - 1) == 0  # padding lanes
                    continue
                raw = (words[addr] >> (u * w)) & ((1 << w) - 1)
                if layer.weight_encoding == "odd_levels":
                    value = 2 * raw - (2**w - 1)  # 1 bit: 1 -> +1, 0 -> -1
                else:
                    value = raw - (1 << w) if raw >= 1 << (w - 1) else raw
                assert value == rows[g * p + u, j]
        scales, _, _ = scale_words(layer)
        mb = max(17, int(layer.multiplier.max()).bit_length())
        assert (scales[0] & ((1 << mb) - 1)) == int(layer.multiplier[0])


# ---------------------------------------------------------------- NIR


def _nir_spikes(path: Path, x: torch.Tensor, timesteps: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Spikes of every LIF node and the time-averaged output of SpikingJelly's import of the file."""
    net = import_from_nir(str(path), step_mode="m")
    recorded: list[np.ndarray] = []
    for module in net.modules():
        if type(module).__name__ == "_NIRStatefulModule":
            module.register_forward_hook(lambda _m, _i, out: recorded.append(out[0].detach().numpy().astype(np.uint8)))
    with torch.no_grad():
        out, _ = net(x.unsqueeze(0).expand(timesteps, *x.shape).float())
    return recorded, out.mean(0).numpy()


@pytest.mark.parametrize("name", ["float", "float_conv"])
def test_nir_loads_back_with_nir_and_spikingjelly_and_gives_the_same_spikes(models, digits, name, tmp_path):
    model = models[name]
    c = model.candidate
    export_to(ExportContext(model, "digits", "test"), ["nir"], tmp_path / "out")
    path = tmp_path / "out" / "network.nir"
    graph = nir.read(str(path))
    assert int(graph.metadata["timesteps"]) == c.timesteps
    weight_nodes = [n for n in graph.nodes.values() if isinstance(n, (nir.Linear, nir.Conv2d))]
    assert [int(n.metadata["weight_bits"]) for n in weight_nodes] == list(c.weight_bits)
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"LIF", "Linear"}
    x = digits.test.x[:64]
    spikes, outputs = _nir_spikes(path, x, c.timesteps)
    expected, logits = model_spikes(model, x)
    assert sum(int(s.sum()) for s in expected) > 0
    assert len(spikes) == len(expected) and all(np.array_equal(a, b) for a, b in zip(spikes, expected))
    assert np.allclose(outputs, logits, atol=1e-5)
    sidecar = json.loads((tmp_path / "out" / "network.nir.json").read_text())
    assert sidecar["timesteps"] == c.timesteps and sidecar["weight_bits"] == list(c.weight_bits)
    assert sidecar["input_step"] == 0.25


def test_nir_metadata_carries_codes_and_scales_that_give_the_weights(models, tmp_path):
    graph, _ = build_graph(models["mlp"], 0.25)
    linear = [n for n in graph.nodes.values() if isinstance(n, nir.Linear)]
    for node in linear:
        codes, scale = np.asarray(node.metadata["codes"]), np.asarray(node.metadata["scale"])
        assert np.allclose(codes * scale[:, None], node.weight, rtol=1e-6)
    lif = [n for n in graph.nodes.values() if isinstance(n, nir.LIF)]
    assert lif[0].metadata["membrane_bits"] == 6 and lif[0].metadata["threshold_lsb"] == 16


def test_nir_of_a_fixed_point_membrane_is_reported_not_equal(models, digits, tmp_path):
    """NIR's LIF is a float neuron: a 6-bit membrane's rounding is not in the graph (docs/export.md)."""
    model = models["mlp"]
    export_to(ExportContext(model, "digits", "test"), ["nir"], tmp_path / "out")
    x = digits.test.x[:64]
    spikes, _ = _nir_spikes(tmp_path / "out" / "network.nir", x, model.candidate.timesteps)
    expected, _ = model_spikes(model, x)
    differing = sum(int((a != b).sum()) for a, b in zip(spikes, expected))
    total = sum(a.size for a in expected)
    print(f"NIR float LIF vs 6-bit membrane: {differing} of {total} spikes differ")
    assert differing < total * 0.2


def test_max_pool_cannot_go_to_nir_and_nothing_is_written(tmp_path):
    from dse.training.model import build_model

    model = build_model(Candidate("conv", (4,), (4, 4), (8,), 2, pooling=("max",))).eval()
    out = tmp_path / "out"
    with pytest.raises(UserError, match="max pooling, which NIR cannot express"):
        export_to(ExportContext(model, "digits", "test"), ["yaml", "npz", "nir"], out)
    assert not out.exists() and _no_partial_folders(tmp_path)


# ---------------------------------------------------------------- yaml, pt, the folder


def test_yaml_loads_with_dse_estimate(models, tmp_path):
    export_to(ExportContext(models["conv"], "digits", "test"), ["yaml"], tmp_path / "out")
    assert estimate.load_candidate(tmp_path / "out" / "candidate.yaml") == CONV


def test_pt_round_trip_gives_the_same_outputs(models, digits, tmp_path):
    model = models["conv"]
    export_to(ExportContext(model, "digits", "test"), ["pt"], tmp_path / "out")
    ckpt = read_checkpoint(tmp_path / "out" / "model.pt")
    assert ckpt.dataset == "digits" and ckpt.in_step == 0.25
    back = load_model(ckpt)
    x = digits.test.x[:16]
    with torch.no_grad():
        functional.reset_net(model)
        a = model(x)
        functional.reset_net(model)
        b = back(x)
    assert torch.equal(a, b)


def test_existing_output_is_refused_unless_forced_and_force_keeps_other_files(models, tmp_path):
    """--force replaces only what the export writes: a study.db or a note in --out survives (issue 11: it was deleted)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    (out / "study.db").write_bytes(b"SQLite format 3\x00 the user's study")
    ctx = ExportContext(models["mlp"], "digits", "test")
    with pytest.raises(UserError, match="already exists"):
        export_to(ctx, ["yaml"], out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "study.db"]
    export_to(ctx, ["yaml", "npz"], out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["candidate.yaml", "export.json", "keep.txt", "network.npz", "study.db"]
    assert (out / "study.db").read_bytes() == b"SQLite format 3\x00 the user's study" and (out / "keep.txt").read_text() == "x"
    # a second forced export with fewer formats removes what the first export wrote and this one does not
    export_to(ctx, ["yaml"], out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["candidate.yaml", "export.json", "keep.txt", "study.db"]
    assert json.loads((out / "export.json").read_text())["files"] == ["candidate.yaml"]
    assert _no_partial_folders(tmp_path)


def test_forced_export_refuses_a_folder_where_it_writes_a_file(models, tmp_path):
    out = tmp_path / "out"
    (out / "candidate.yaml").mkdir(parents=True)
    (out / "candidate.yaml" / "mine.txt").write_text("x")
    with pytest.raises(UserError, match="not a plain file"):
        export_to(ExportContext(models["mlp"], "digits", "test"), ["yaml"], out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["candidate.yaml"] and (out / "candidate.yaml" / "mine.txt").exists()
    assert _no_partial_folders(tmp_path)


def test_unknown_format_lists_the_accepted_ones():
    assert parse_formats("yaml, NPZ,yaml") == ["yaml", "npz"]
    with pytest.raises(UserError, match="unknown format 'onnx'; accepted: " + ", ".join(FORMATS)):
        parse_formats("yaml,onnx")


def test_integer_formats_refuse_full_precision_weights_and_write_nothing(tmp_path):
    from dse.training.model import build_model

    model = build_model(Candidate("mlp", (8,), (None, 4), (6,), 2)).eval()
    with pytest.raises(UserError, match="layer0 has full-precision"):
        export_to(ExportContext(model, "digits", "test"), ["yaml", "mem"], tmp_path / "out")
    assert not (tmp_path / "out").exists() and _no_partial_folders(tmp_path)


def test_default_export_leaves_out_what_the_configuration_cannot_take(tmp_path):
    from dse.training.model import build_model

    from dse.cli.export import DEFAULT_FORMATS

    assert parse_formats(DEFAULT_FORMATS) == ["yaml", "npz", "nir", "mem", "pt", "verilog"]
    model = build_model(Candidate("mlp", (8,), (None, 4), (6,), 2)).eval()
    skipped: dict[str, str] = {}
    written = export_to(ExportContext(model, "digits", "test"), ["yaml", "npz", "mem", "pt", "verilog"], tmp_path / "out",
                        skipped=skipped)
    assert sorted(p.name for p in written) == ["candidate.yaml", "export.json", "model.pt"]
    assert set(skipped) == {"npz", "mem", "verilog"} and all("layer0 has full-precision" in r for r in skipped.values())
    manifest = json.loads((tmp_path / "out" / "export.json").read_text())
    assert manifest["formats"] == ["yaml", "pt"] and set(manifest["skipped"]) == {"npz", "mem", "verilog"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["candidate.yaml", "export.json", "model.pt"]
    with pytest.raises(UserError, match="no format can express"):
        export_to(ExportContext(model, "digits", "test"), ["npz", "mem"], tmp_path / "out2", skipped={})
    assert not (tmp_path / "out2").exists() and _no_partial_folders(tmp_path)


# ---------------------------------------------------------------- artifacts and `dse export`

SPACE = """
families:
  mlp: {depth: [1], widths: [16]}
weight_bits: [4]
membrane_bits: [6]
timesteps: [2]
parallelism: [4]
quantizers:
  uniform: {scale: [mean]}
"""


@pytest.fixture(scope="module")
def searched(tmp_path_factory, digits):
    """Two real studies in one SQLite storage: 'a' with 2 trials, 'b' with 3 (trials keep their weights)."""
    root = tmp_path_factory.mktemp("study")
    space = root / "space.yaml"
    space.write_text(SPACE)
    url = f"sqlite:///{root / 'study.db'}"
    for name, trials in (("a", 2), ("b", 3)):
        settings = SearchSettings(
            study_name=name, storage_url=url, space=SearchSpace.load(str(space)), target=load_target("fpga-small"),
            budgets={}, objectives=("accuracy", "energy"), trials=trials, timeout_s=None,
            fidelity=Fidelity(epochs=1), sampler="random", seed=0, dataset="digits",
        )
        run_search(settings, digits, "cpu")
    return root, url


def _export_args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    export_command.add_parser(parser.add_subparsers())
    argv = ["export"]
    for key, value in kw.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return parser.parse_args(argv)


def test_default_artifact_dir_is_beside_the_sqlite_file():
    assert default_artifact_dir("sqlite:///runs/x/study.db") == str(Path("runs/x/artifacts"))
    assert default_artifact_dir("sqlite:////abs/study.db") == "/abs/artifacts"
    assert default_artifact_dir("sqlite://") is None
    assert default_artifact_dir("postgresql://u@h/db") is None


def test_trials_keep_their_weights_and_export_needs_no_training(searched, digits, tmp_path, monkeypatch, capsys):
    root, url = searched
    study = optuna.load_study(study_name="b", storage=url)
    trial = study.trials[1]
    assert trial.user_attrs[ARTIFACT_ID_ATTR] and (root / "artifacts" / trial.user_attrs[ARTIFACT_ID_ATTR]).is_file()
    import dse.training.train

    monkeypatch.setattr(dse.training.train, "train_candidate", lambda *a, **k: pytest.fail("export must not train"))
    out = tmp_path / "exp"
    assert export_command.run(_export_args(storage=url, study="b", trial=1, out=out, scale_bits=32)) == 0
    names = {p.name for p in out.iterdir()}
    assert {"candidate.yaml", "network.npz", "network.nir", "network.nir.json", "model.pt", "export.json",
            "layer0_weights.mem", "layer0_weights.coe", "layer1_weights.mem", "mem_manifest.json"} <= names
    assert "study 'b' trial 1" in capsys.readouterr().out
    model = load_model(read_checkpoint(out / "model.pt"))
    net = read_npz(out / "network.npz")
    result = agreement(model.double(), net, digits.test.x[:64].double())
    assert result.spikes_differing == 0  # the exported integers reproduce the stored trial's model


def test_export_from_checkpoint(searched, tmp_path):
    root, url = searched
    first = tmp_path / "first"
    export_command.run(_export_args(storage=url, study="a", trial=0, out=first, format="pt"))
    again = tmp_path / "again"
    assert export_command.run(_export_args(from_checkpoint=first / "model.pt", out=again, format="yaml,npz")) == 0
    assert (again / "network.npz").is_file()


def _refused(args: argparse.Namespace, match: str, out: Path) -> None:
    with pytest.raises(UserError, match=match) as info:
        export_command.run(args)
    assert "\n" not in str(info.value)
    assert not out.exists() and _no_partial_folders(out.parent)


def test_unknown_study_and_trial_and_another_studys_trial(searched, tmp_path):
    _, url = searched
    out = tmp_path / "o"
    _refused(_export_args(storage=url, study="zzz", trial=0, out=out), "no study 'zzz'.*studies there: 'a', 'b'", out)
    _refused(_export_args(storage=url, study="b", trial=9, out=out), "has no trial 9 .trials 0..2.$", out)
    _refused(_export_args(storage=url, study="a", trial=2, out=out), "trial 2 belongs to study 'b'", out)
    _refused(_export_args(storage=f"sqlite:///{tmp_path / 'none.db'}", study="a", trial=0, out=out), "no storage file", out)
    assert not (tmp_path / "none.db").exists()


def _add_trial(url: str, study_name: str, state, attrs: dict, values=None) -> int:
    study = optuna.load_study(study_name=study_name, storage=url)
    trial = optuna.trial.create_trial(state=state, values=values, user_attrs=attrs,
                                      params={}, distributions={})
    study.add_trial(trial)
    return len(study.trials) - 1


def test_failed_screened_and_weightless_trials_are_refused(searched, tmp_path):
    root, url = searched
    out = tmp_path / "o"
    cand = MLP.to_dict()
    failed = _add_trial(url, "a", optuna.trial.TrialState.FAIL, {"status": "failed", "fail_reason": "TrainingDiverged: nan", "candidate": cand})
    _refused(_export_args(storage=url, study="a", trial=failed, out=out), "failed .TrainingDiverged: nan.", out)
    screened = _add_trial(url, "a", optuna.trial.TrialState.COMPLETE,
                          {"status": "screened", "violations": ["energy"], "candidate": cand}, [0.0, 1.0])
    _refused(_export_args(storage=url, study="a", trial=screened, out=out), "was screened .* energy", out)
    old = _add_trial(url, "a", optuna.trial.TrialState.COMPLETE, {"status": "trained", "candidate": cand}, [0.9, 1.0])
    _refused(_export_args(storage=url, study="a", trial=old, out=out), "has no stored model .*dse train --config", out)
    # the candidate alone can still be exported, then trained
    assert export_command.run(_export_args(storage=url, study="a", trial=old, out=out, format="yaml")) == 0
    assert estimate.load_candidate(out / "candidate.yaml") == MLP


def test_bad_format_existing_output_and_corrupt_checkpoint(searched, tmp_path):
    _, url = searched
    out = tmp_path / "o"
    _refused(_export_args(storage=url, study="a", trial=0, out=out, format="yaml,onnx"), "unknown format 'onnx'", out)
    out.mkdir()
    with pytest.raises(UserError, match="already exists"):
        export_command.run(_export_args(storage=url, study="a", trial=0, out=out))
    assert list(out.iterdir()) == []
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x04garbage")
    _refused(_export_args(from_checkpoint=bad, out=tmp_path / "o2"), "not a readable checkpoint", tmp_path / "o2")
    _refused(_export_args(from_checkpoint=tmp_path / "missing.pt", out=tmp_path / "o3"), "no such file", tmp_path / "o3")
    _refused(_export_args(out=tmp_path / "o4"), "give --from-checkpoint FILE, or all of", tmp_path / "o4")


def test_missing_artifact_folder_is_one_line(searched, tmp_path):
    _, url = searched
    out = tmp_path / "o"
    _refused(_export_args(storage=url, study="a", trial=0, out=out, artifact_dir=tmp_path / "nowhere"),
             "needs its artifact folder", out)
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(_export_args(storage=url, study="a", trial=0, out=out, artifact_dir=empty), "is not in", out)


def test_weights_are_found_where_the_trial_recorded_them_or_their_host_is_named(searched, tmp_path):
    """PostgreSQL across machines: export elsewhere uses the folder a trial recorded (a shared one), or says
    in one line which host holds the weights."""
    import shutil

    from dse.training.artifacts import ARTIFACT_DIR_ATTR, ARTIFACT_HOST_ATTR, load_trial_checkpoint

    root, _ = searched
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copy(root / "study.db", moved / "study.db")  # the storage alone; its artifacts/ stays where the trials wrote it
    url = f"sqlite:///{moved / 'study.db'}"
    assert export_command.run(_export_args(storage=url, study="a", trial=0, out=tmp_path / "o", format="pt")) == 0
    trial = optuna.load_study(study_name="a", storage=url).trials[0]
    assert trial.user_attrs[ARTIFACT_DIR_ATTR] == str((root / "artifacts").absolute())
    remote = optuna.trial.create_trial(
        values=[0.5, 1.0], user_attrs={ARTIFACT_ID_ATTR: trial.user_attrs[ARTIFACT_ID_ATTR],
                                       ARTIFACT_DIR_ATTR: "/scratch/node7/artifacts", ARTIFACT_HOST_ATTR: "node7"},
    )
    with pytest.raises(UserError, match="written to /scratch/node7/artifacts on host 'node7'") as err:
        load_trial_checkpoint(remote, None, "a", "retrain it")
    assert len(str(err.value).splitlines()) == 1


def test_a_failing_artifact_store_does_not_lose_the_trial(tmp_path, make_settings, digits):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    settings = make_settings(space=str(space), artifact_dir=str(blocker))
    study = run_search(settings, digits, "cpu")
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.COMPLETE and trial.user_attrs["status"] in ("trained", "stopped")
    assert "model_artifact_error" in trial.user_attrs and ARTIFACT_ID_ATTR not in trial.user_attrs


def test_written_files_get_ordinary_permissions_not_mkstemps_private_ones(tmp_path):
    from dse.files import write_text

    mask = os.umask(0o022)
    try:
        path = write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(mask)
    assert path.read_text() == "x" and (path.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_forced_export_into_the_study_folder_keeps_the_study(tmp_path, tiny_study, capsys):
    """Issue 11: `dse export --force --out DIR` with DIR holding study.db deleted the study; now it is kept."""
    from dse.cli import main

    out = tmp_path / "run"
    assert main(["search", "--study-config", tiny_study, "--out", str(out), "--trials", "2", "--quiet", "--verify", "0"]) == 0
    url = f"sqlite:///{out / 'study.db'}"
    before = sorted(p.name for p in out.iterdir())
    number = next(t.number for t in optuna.load_study(study_name="tiny", storage=url).trials
                  if t.user_attrs.get("status") in ("trained", "stopped"))
    assert main(["export", "--storage", url, "--study", "tiny", "--trial", str(number), "--out", str(out),
                 "--format", "yaml,pt", "--force"]) == 0
    after = sorted(p.name for p in out.iterdir())
    assert set(before) <= set(after) and {"candidate.yaml", "model.pt", "export.json"} <= set(after)
    assert len(optuna.load_study(study_name="tiny", storage=url).get_trials(states=(COMPLETE_STATE,))) >= 2
    assert main(["pareto", "--storage", url, "--study", "tiny"]) == 0


COMPLETE_STATE = optuna.trial.TrialState.COMPLETE
