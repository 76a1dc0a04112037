"""scikit-learn's bundled 8x8 digits (1797 images, 10 classes, no download) as static inputs."""

from __future__ import annotations

import numpy as np

from dse.training.datasets._base import INPUT_GAIN, DataSplits, stratified_splits

DIGITS_LEVELS = 16  # digits pixels are integers 0..16


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """The raw images [1797, 8, 8] as integers 0..16 and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype(np.int64), digits.target.astype(np.int64)


def load_digits_static(seed: int, val_fraction: float, test_fraction: float) -> DataSplits:
    """Images [N, 1, 8, 8] in [0, 4] on a grid of 1/4 (k/16 x INPUT_GAIN), split stratified by seed."""
    images, y = digits_images()
    x = (images.astype(np.float32) / DIGITS_LEVELS * INPUT_GAIN)[:, None, :, :]
    train, val, test = stratified_splits(x, y, seed, val_fraction, test_fraction, "digits")
    return DataSplits(
        name="digits", train=train, val=val, test=test, input_shape=(1, 8, 8), num_classes=10,
        input_kind="static", frames=None, in_step=INPUT_GAIN / DIGITS_LEVELS,
    )
