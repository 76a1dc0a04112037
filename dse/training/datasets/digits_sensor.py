"""digits-dvs34: the digits at N-MNIST's geometry, a synthetic event set at sensor resolution.

N-MNIST (Orchard et al. 2015) put 28x28 MNIST images (digits scaled into a 20x20 box, centred)
on a monitor before a 34x34 ATIS camera that made three saccades along a triangle. Here each of
scikit-learn's 8x8 digits is upsampled to 20x20 (bilinear), lit on a dark screen in a 28x28 field
with a per-sample shift of up to JITTER pixels, moved along the triangle (y, x) = (0, 0) -> (6, 3)
-> (0, 6) -> (0, 0) pixels on a 34x34 sensor at constant speed per saccade, sampled at FRAMES + 1
positions and fed to the simulated camera of dse.training.datasets.dvs_sim. One frame per
simulation step: [N, 16, 2, 34, 34] of 0/1. Synthetic: no real sensor recorded it, and the
digits carry 8x8 detail only. Deterministic for a seed (docs/datasets.md).
"""

from __future__ import annotations

import numpy as np

from dse.training.datasets._base import DataSplits, stratified_splits
from dse.training.datasets.digits import DIGITS_LEVELS, digits_images
from dse.training.datasets.dvs_sim import DvsSensor, simulate_dvs
from dse.training.datasets.saccades import translate

NAME = "digits-dvs34"
DIGIT_SIZE = 28  # MNIST's field
INK_SIZE = 20  # MNIST's digits are scaled to fit 20x20 ...
INK_OFFSET = 4  # ... and centred in the 28x28 field (by centre of mass: a few pixels either way)
JITTER = 2  # per-sample shift of the ink box, -JITTER..JITTER pixels on each axis
SENSOR_SIZE = 34  # N-MNIST's ATIS window: the field plus the saccades' 6-pixel reach
SACCADE_VERTICES = ((0.0, 0.0), (6.0, 3.0), (0.0, 6.0), (0.0, 0.0))  # (y, x) offsets in pixels
FRAMES = 16  # one frame per simulation step; divisible by T = 1, 2, 4, 8, 16


def saccade_path(frames: int = FRAMES) -> np.ndarray:
    """(y, x) offsets [frames + 1, 2]: the start, then the end of every simulation step; each saccade
    takes the same time, so a frame may span a corner of the triangle (16 frames: 5 1/3 per saccade)."""
    vertices = np.asarray(SACCADE_VERTICES, dtype=np.float64)
    saccades = len(vertices) - 1
    time = np.arange(frames + 1) * saccades / frames  # in saccades: 0 .. 3
    index = np.minimum(np.floor(time).astype(int), saccades - 1)
    along = (time - index)[:, None]
    return vertices[index] + (vertices[index + 1] - vertices[index]) * along


def render(images: np.ndarray, path: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Intensities [len(path), N, SENSOR_SIZE, SENSOR_SIZE] in [0, 1]: each image upsampled to
    INK_SIZE, placed in the top-left 28x28 field at INK_OFFSET + its (y, x) shift (integers
    within +-JITTER) on a dark sensor, and moved to every path offset."""
    from scipy import ndimage

    n, size = images.shape[0], images.shape[1]
    zoom = INK_SIZE / size
    ink = np.clip(ndimage.zoom(images.astype(np.float32) / DIGITS_LEVELS, (1, zoom, zoom), order=1), 0.0, 1.0)
    canvas = np.zeros((n, SENSOR_SIZE, SENSOR_SIZE), dtype=np.float32)
    for i, (dy, dx) in enumerate(INK_OFFSET + np.asarray(shifts, dtype=int)):
        canvas[i, dy : dy + INK_SIZE, dx : dx + INK_SIZE] = ink[i]
    return np.stack([translate(canvas, dy, dx) for dy, dx in path])


def sensor_frames(images: np.ndarray, seed: int, sensor: DvsSensor = DvsSensor()) -> np.ndarray:
    """Event frames [N, FRAMES, 2, 34, 34] uint8 0/1 of digits images [N, 8, 8] (0..16); deterministic
    for a seed (the placement shifts, the sensor's thresholds and its noise)."""
    rng = np.random.default_rng(seed)
    shifts = rng.integers(-JITTER, JITTER + 1, size=(len(images), 2))
    counts = simulate_dvs(render(images, saccade_path(), shifts), sensor, rng)
    return (counts > 0).astype(np.uint8)


def digits_sensor_frames(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits: event frames [1797, FRAMES, 2, 34, 34] and labels [1797]."""
    images, labels = digits_images()
    return sensor_frames(images, seed), labels


def load_digits_sensor(seed: int, val_fraction: float, test_fraction: float) -> DataSplits:
    """The event set split stratified by class with the seed (which also seeds the sensor)."""
    frames, y = digits_sensor_frames(seed)
    train, val, test = stratified_splits(frames, y, seed, val_fraction, test_fraction, NAME)
    return DataSplits(
        name=NAME, train=train, val=val, test=test, input_shape=(2, SENSOR_SIZE, SENSOR_SIZE),
        num_classes=10, input_kind="events", frames=FRAMES, in_step=1.0,
    )
