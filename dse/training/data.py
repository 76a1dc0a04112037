"""Data sets for scoring candidates: the front of dse.training.datasets (one module per set behind one loader).

Names: digits (scikit-learn's bundled 8x8 digits, no download), digits-dvs (the same digits
through a simulated event camera), digits-dvs34 (the default study's: the digits at N-MNIST's 34x34
sensor geometry, synthetic); mnist, fashion-mnist, nmnist, shd, dvsgesture,
cifar10-dvs (downloaded once into the cache, docs/datasets.md); npz:PATH, nmnist:PATH, dvsgesture:PATH.
"""

from __future__ import annotations

from dse.training.datasets import (
    ACCEPTED,
    BUILTIN,
    DOWNLOADED,
    INPUT_GAIN,
    INPUT_KINDS,
    DataSplits,
    Split,
    check_dataset_name,
    load_dataset,
)

DATASETS = BUILTIN + DOWNLOADED  # the names that need no path; check_dataset_name accepts the name:PATH forms too

__all__ = [
    "ACCEPTED", "DATASETS", "DOWNLOADED", "INPUT_GAIN", "INPUT_KINDS", "DataSplits", "Split", "check_dataset_name", "load_dataset",
]
