"""digits-dvs34, the default study's synthetic event set: N-MNIST's geometry (MNIST's 20x20 ink in a
28x28 field, 34x34 sensor, three saccades), deterministic frames, shapes and labels."""

import numpy as np
import pytest
import torch

from dse.training.data import load_dataset
from dse.training.datasets import digits_sensor
from dse.training.datasets.digits import digits_images
from dse.training.datasets.digits_sensor import (
    DIGIT_SIZE, FRAMES, INK_OFFSET, INK_SIZE, JITTER, SENSOR_SIZE, digits_sensor_frames, render, saccade_path,
    sensor_frames,
)
from dse.training.datasets.dvs_sim import OFF, ON

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def few():
    """The first 30 digits and their labels: enough for the frame checks without generating all 1797."""
    images, labels = digits_images()
    return images[:30], labels[:30]


def test_saccades_follow_n_mnists_triangle_at_constant_speed():
    path = saccade_path()
    assert len(path) == FRAMES + 1 == 17
    assert tuple(path[0]) == tuple(path[-1]) == (0.0, 0.0)
    assert tuple(path[8]) == (3.0, 4.5)  # time 1.5 saccades: halfway from (6, 3) to (0, 6)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert np.allclose(steps[:5], 3 / 16 * np.hypot(6, 3))  # 3/16 of a saccade per frame on the first side
    assert np.allclose(steps[-5:], 3 / 16 * 6)  # and on the last, back left
    assert DIGIT_SIZE + path.max() <= SENSOR_SIZE  # the 28x28 field never leaves the sensor
    assert 0 <= INK_OFFSET - JITTER and INK_OFFSET + JITTER + INK_SIZE <= DIGIT_SIZE  # the ink never leaves the field


def test_render_places_each_digit_by_its_shift_and_moves_it_along_the_path(few):
    images, _ = few
    path = saccade_path()
    still = render(images[:2], path[:1], np.array([[0, 0], [2, -2]]))
    assert still.shape == (1, 2, SENSOR_SIZE, SENSOR_SIZE) and still.min() >= 0.0 and still.max() <= 1.0
    box = slice(INK_OFFSET, INK_OFFSET + INK_SIZE)
    assert still[0, 0].sum() > 0 and still[0, 0, box, box].sum() == pytest.approx(still[0, 0].sum())  # all in the 20x20 box
    moved = still[0, 1, INK_OFFSET + 2 : INK_OFFSET + 2 + INK_SIZE, INK_OFFSET - 2 : INK_OFFSET - 2 + INK_SIZE]
    assert moved.sum() == pytest.approx(still[0, 1].sum())
    frames = render(images[:2], path, np.zeros((2, 2), dtype=int))
    assert frames.shape == (FRAMES + 1, 2, SENSOR_SIZE, SENSOR_SIZE)
    mass = frames.sum(axis=(2, 3))
    np.testing.assert_allclose(mass, np.broadcast_to(mass[0], mass.shape), rtol=1e-5)  # bilinear shifts keep the ink
    ys, xs = np.mgrid[:SENSOR_SIZE, :SENSOR_SIZE]
    centre = np.stack([(frames * ys).sum(axis=(2, 3)), (frames * xs).sum(axis=(2, 3))], axis=-1) / mass[..., None]
    np.testing.assert_allclose(centre - centre[0], np.broadcast_to(path[:, None, :], centre.shape), atol=1e-4)


def test_frames_are_binary_deterministic_by_seed_and_have_both_polarities(few):
    images, _ = few
    frames = sensor_frames(images, seed=0)
    assert frames.shape == (30, FRAMES, 2, SENSOR_SIZE, SENSOR_SIZE) and frames.dtype == np.uint8
    assert set(np.unique(frames).tolist()) == {0, 1}
    assert np.array_equal(frames, sensor_frames(images, seed=0))
    assert not np.array_equal(frames, sensor_frames(images, seed=1))  # thresholds and noise follow the seed
    on, off = frames[:, :, ON].sum(axis=(1, 2, 3)), frames[:, :, OFF].sum(axis=(1, 2, 3))
    assert on.min() > 0 and off.min() > 0 and 0.5 < on.sum() / off.sum() < 2.0
    # events come from the moving digit: a blank screen gives background noise only (0.001 per pixel and step)
    blank = sensor_frames(np.zeros((5, 8, 8), dtype=np.int64), seed=0)
    assert blank.mean() < 0.002 and frames.mean() > 0.05


def test_the_set_loads_split_stratified_with_digits_labels(monkeypatch):
    generated = []

    def recorded(seed):
        generated.append(digits_sensor_frames(seed))
        return generated[-1]

    monkeypatch.setattr(digits_sensor, "digits_sensor_frames", recorded)  # the loader's call, kept to compare
    data = load_dataset("digits-dvs34", seed=0)
    assert data.name == "digits-dvs34" and data.input_kind == "events" and data.frames == FRAMES
    assert data.input_shape == (2, SENSOR_SIZE, SENSOR_SIZE) and data.num_classes == 10 and data.in_step == 1.0
    assert (len(data.train), len(data.val), len(data.test)) == (1077, 360, 360)
    for split in (data.train, data.val, data.test):
        assert split.x.dtype == torch.uint8 and tuple(split.x.shape[1:]) == (FRAMES, 2, SENSOR_SIZE, SENSOR_SIZE)
    _, labels = digits_images()
    loaded = np.concatenate([s.y.numpy() for s in (data.train, data.val, data.test)])
    assert np.array_equal(np.bincount(loaded), np.bincount(labels))
    (frames, generated_labels), = generated
    assert np.array_equal(generated_labels, labels)
    rows = {row.tobytes(): int(label) for row, label in zip(frames.reshape(len(frames), -1), labels)}
    for split in (data.train, data.val, data.test):  # every loaded sample is a generated one, with its label
        for x, y in zip(split.x[:50].numpy(), split.y[:50].tolist()):
            assert rows[x.tobytes()] == y


def test_the_default_study_is_the_event_study_and_the_digits_study_stays_reachable():
    from dse.search.study_files import load_study_config
    from search_spaces.space import SearchSpace

    default = load_study_config(None)
    assert (default.name, default.dataset, default.space) == ("digits-dvs34-fpga-small", "digits-dvs34", "event-sensor")
    assert (default.target, default.budgets, default.objectives) == ("fpga-small", {"energy": 0.6}, ("accuracy", "energy"))
    digits = load_study_config("digits-fpga-small")
    assert (digits.dataset, digits.space, digits.trials, digits.fidelity.epochs) == ("digits", "default", 40, 6)
    space, warning = SearchSpace.load(default.space).for_target("fpga-small", "fpga")
    assert warning is None and set(space.families) == {"mlp", "conv"}
    assert max(space.timesteps) >= 16 and min(space.parallelism) == 1
    assert all(FRAMES % t == 0 for t in space.timesteps)  # every T ORs whole groups of frames


def test_the_default_space_straddles_the_budget_before_any_training():
    """The no-training screen alone (zero events: a lower bound) puts a slow conv over 0.6 mJ and a small
    MLP under it: the default study's budget binds."""
    from cost_models.screen import screen
    from search_spaces.candidate import Candidate

    shape = dict(input_shape=(2, SENSOR_SIZE, SENSOR_SIZE), num_classes=10, input_kind="events")
    conv = Candidate("conv", (16,), (4, 4), (8,), 16, pooling=("max",), parallelism=(1, 1), **shape)
    mlp = Candidate("mlp", (16,), (4, 4), (8,), 2, parallelism=(16, 10), **shape)
    over, under = screen(conv, "fpga-small", {"energy": 0.6}), screen(mlp, "fpga-small", {"energy": 0.6})
    assert not over.feasible and any(v.startswith("energy >=") for v in over.violations)
    assert under.feasible and under.report.energy_mj < 0.6


def test_rebinning_whole_groups_of_frames_follows_the_sum_then_clip_rule(few):
    """T dividing the frames takes a max over each group of uint8 frames (frames.py's fast path): the
    same as the documented rule, frame i into step floor(i x T / F), summed, clipped to 1."""
    from dse.training.datasets.frames import frame_to_step, rebin_frames

    images, _ = few
    x = torch.from_numpy(sensor_frames(images[:8], seed=0)).transpose(0, 1)  # [F, N, 2, 34, 34] uint8
    for t in (1, 2, 4, 8):
        rule = torch.zeros((t, *x.shape[1:])).index_add_(0, frame_to_step(FRAMES, t), x.float()).clamp_(max=1.0)
        assert torch.equal(rebin_frames(x, t), rule)
