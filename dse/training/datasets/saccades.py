"""digits-dvs: scikit-learn's digits moved in three saccades before a simulated DVS (N-MNIST's recipe).

N-MNIST (Orchard et al. 2015) filmed MNIST digits on a monitor with an ATIS camera that made
three saccades along a triangle: right-down, right-up, then back left. Here each 8x8 digit is
upsampled to 16x16, lit on a dark screen, moved along the same triangle scaled to 16/28
(vertices (y, x) = (0, 0), (4, 2), (0, 4) pixels) on a 20x20 sensor, rendered at
STEPS_PER_SACCADE positions per saccade with bilinear interpolation, and fed to
dse.training.datasets.dvs_sim. One frame per simulation step: [N, 24, 2, 20, 20] of 0/1 (an event or
none per pixel, polarity and frame). Deterministic for a seed (thresholds and noise).
"""

from __future__ import annotations

import numpy as np

from dse.training.datasets._base import DataSplits, stratified_splits
from dse.training.datasets.digits import DIGITS_LEVELS, digits_images
from dse.training.datasets.dvs_sim import DvsSensor, simulate_dvs

UPSAMPLE = 2  # 8x8 -> 16x16
SENSOR_SIZE = 20  # 16-pixel digit plus the saccades' 4-pixel reach, as N-MNIST's 28 -> 34
SACCADE_VERTICES = ((0.0, 0.0), (4.0, 2.0), (0.0, 4.0), (0.0, 0.0))  # (y, x) offsets, N-MNIST's triangle x 16/28
STEPS_PER_SACCADE = 8
FRAMES = STEPS_PER_SACCADE * (len(SACCADE_VERTICES) - 1)  # 24: divisible by T = 1, 2, 3, 4, 6, 8, 12, 24


def saccade_path(steps_per_saccade: int = STEPS_PER_SACCADE) -> np.ndarray:
    """(y, x) offsets [3 x steps + 1, 2]: the start, then the end of every simulation step."""
    points = [np.array(SACCADE_VERTICES[0])]
    for a, b in zip(SACCADE_VERTICES[:-1], SACCADE_VERTICES[1:]):
        for k in range(1, steps_per_saccade + 1):
            points.append(np.array(a) + (np.array(b) - np.array(a)) * k / steps_per_saccade)
    return np.stack(points)


def render_saccades(images: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Intensities [len(path), N, S, S] in [0, 1]: upsampled images shifted to every path offset."""
    from scipy import ndimage

    n = images.shape[0]
    size = images.shape[1] * UPSAMPLE
    big = ndimage.zoom(images.astype(np.float32) / DIGITS_LEVELS, (1, UPSAMPLE, UPSAMPLE), order=1)
    canvas = np.zeros((n, SENSOR_SIZE, SENSOR_SIZE), dtype=np.float32)
    canvas[:, :size, :size] = np.clip(big, 0.0, 1.0)
    return np.stack([translate(canvas, dy, dx) for dy, dx in path])


def translate(canvas: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """canvas [N, H, W] moved by (dy, dx) >= 0 pixels with bilinear interpolation, zeros shifted in."""
    iy, ix = int(np.floor(dy)), int(np.floor(dx))
    fy, fx = dy - iy, dx - ix
    out = np.zeros_like(canvas)
    for oy, wy in ((iy, 1.0 - fy), (iy + 1, fy)):
        for ox, wx in ((ix, 1.0 - fx), (ix + 1, fx)):
            if wy * wx == 0.0:
                continue
            h, w = canvas.shape[1] - oy, canvas.shape[2] - ox
            if h > 0 and w > 0:
                out[:, oy:, ox:] += np.float32(wy * wx) * canvas[:, :h, :w]
    return out


def digits_saccade_frames(seed: int, sensor: DvsSensor = DvsSensor()) -> tuple[np.ndarray, np.ndarray]:
    """Event frames [1797, 24, 2, 20, 20] uint8 0/1 and labels [1797]; deterministic for a seed."""
    images, labels = digits_images()
    rng = np.random.default_rng(seed)
    counts = simulate_dvs(render_saccades(images, saccade_path()), sensor, rng)
    return (counts > 0).astype(np.uint8), labels


def load_digits_dvs(seed: int, val_fraction: float, test_fraction: float) -> DataSplits:
    """The event set split stratified by class with the seed (which also seeds the sensor)."""
    frames, y = digits_saccade_frames(seed)
    train, val, test = stratified_splits(frames, y, seed, val_fraction, test_fraction, "digits-dvs")
    return DataSplits(
        name="digits-dvs", train=train, val=val, test=test, input_shape=(2, SENSOR_SIZE, SENSOR_SIZE),
        num_classes=10, input_kind="events", frames=FRAMES, in_step=1.0,
    )
