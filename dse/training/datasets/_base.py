"""The types every data set returns (Split, DataSplits) and the one stratified split they share."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from dse.errors import UserError
from search_spaces.candidate import INPUT_KINDS  # static: [N, C, H, W] values; events: [N, T, C, H, W] 0/1

INPUT_GAIN = 4.0  # static inputs scaled to [0, 4]: with [0, 1] the first LIF layer barely fires (stack-notes.md)


@dataclass(frozen=True)
class Split:
    """Inputs and integer labels [N].

    Static sets: x is float32 [N, C, H, W] in [0, INPUT_GAIN] on a grid of in_step.
    Event sets: x is uint8 [N, T, C, H, W] of 0/1 (one event or none per pixel, polarity, frame).
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class DataSplits:
    """Train/validation/test splits of one data set, deterministic for a given seed.

    input_shape is one frame's (C, H, W); frames is the data's T for event sets (None for static);
    in_step is the value of one input LSB (digits 1/4, events 1), read by the integer export.
    families are the network families the data suits (SHD: mlp only; check_family refuses the rest).
    """

    name: str
    train: Split
    val: Split
    test: Split
    input_shape: tuple[int, int, int]
    num_classes: int
    input_kind: str = "static"
    frames: int | None = None
    in_step: float = 0.25
    families: tuple[str, ...] = ("mlp", "conv")

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"unknown input kind {self.input_kind!r}; accepted: {', '.join(INPUT_KINDS)}")
        if (self.input_kind == "events") != (self.frames is not None):
            raise ValueError("event data sets need frames (their T); static ones have none")

    def check_family(self, family: str) -> None:
        """Refuse, in one line, a network family the data set does not suit (a conv net on SHD's channels)."""
        if family not in self.families:
            raise UserError(
                f"dataset {self.name}: family {family!r} does not suit its input {list(self.input_shape)} "
                f"(no spatial neighbourhood); accepted families: {', '.join(self.families)}"
            )

    def to(self, device: torch.device) -> "DataSplits":
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))

    def event_rate(self) -> float | None:
        """Mean events per input element and frame over the training split (None for static sets)."""
        if self.input_kind != "events":
            return None
        return float(self.train.x.float().mean())


def stratified_splits(
    x: np.ndarray, y: np.ndarray, seed: int, val_fraction: float, test_fraction: float, where: str
) -> tuple[Split, Split, Split]:
    """Train/val/test split stratified by class with the given seed (scikit-learn's train_test_split)."""
    x_rest, x_test, y_rest, y_test = _split(x, y, test_fraction, seed, where)
    x_train, x_val, y_train, y_val = _split(x_rest, y_rest, val_fraction / (1.0 - test_fraction), seed, where)
    return to_split(x_train, y_train), to_split(x_val, y_val), to_split(x_test, y_test)


def split_off(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, where: str) -> tuple[Split, Split]:
    """One stratified cut: (the rest, the fraction), e.g. a validation split from a fixed train set."""
    x_rest, x_cut, y_rest, y_cut = _split(x, y, fraction, seed, where)
    return to_split(x_rest, y_rest), to_split(x_cut, y_cut)


def _split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, where: str) -> list[np.ndarray]:
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(x, y, test_size=fraction, random_state=seed, stratify=y)
    except ValueError as exc:  # too few samples of a class for a stratified split
        counts = np.bincount(y)
        raise UserError(
            f"{where}: cannot split {len(y)} samples stratified by class (fewest in a class: "
            f"{int(counts[counts > 0].min())}): {str(exc).splitlines()[0]}"
        ) from None


def to_split(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)))
