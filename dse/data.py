"""Data sets for scoring candidates; the default is scikit-learn's bundled 8x8 digits (no download)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

DATASETS = ("digits",)
INPUT_GAIN = 4.0  # inputs scaled to [0, 4]: with [0, 1] the first LIF layer barely fires (stack-notes.md)


@dataclass(frozen=True)
class Split:
    """Images [N, C, H, W] as float32 in [0, INPUT_GAIN] and integer labels [N]."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class DataSplits:
    """Train/validation/test splits of one data set, deterministic for a given seed."""

    name: str
    train: Split
    val: Split
    test: Split
    input_shape: tuple[int, int, int]
    num_classes: int

    def to(self, device: torch.device) -> "DataSplits":
        return DataSplits(
            self.name, self.train.to(device), self.val.to(device), self.test.to(device),
            self.input_shape, self.num_classes,
        )


def load_dataset(name: str, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2) -> DataSplits:
    """Load a data set by name and split it stratified by class with the given seed."""
    if name != "digits":
        raise ValueError(f"unknown dataset {name!r}; accepted: {', '.join(DATASETS)}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0 * INPUT_GAIN)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_fraction / (1.0 - test_fraction), random_state=seed, stratify=y_rest
    )

    def split(a: np.ndarray, b: np.ndarray) -> Split:
        return Split(torch.from_numpy(a), torch.from_numpy(b))

    return DataSplits(
        name="digits",
        train=split(x_train, y_train),
        val=split(x_val, y_val),
        test=split(x_test, y_test),
        input_shape=(1, 8, 8),
        num_classes=10,
    )
