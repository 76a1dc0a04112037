"""Confidence intervals and paired tests for accuracies measured on several splits.

Accuracy here is a matrix of 0/1 outcomes [repeats, test samples]: each repeat trains on its own
split and is scored on that split's test samples. The spread therefore has two sources, the
training run (one per repeat) and the finite test set; the two-level bootstrap resamples both
(repeats with replacement, then each chosen repeat's samples with replacement). A paired
comparison resamples the same repeats and samples for both methods, which share split and seed.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

BOOTSTRAP_RESAMPLES = 4000
CONFIDENCE = 0.95


def _resampled_means(outcomes: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `resamples` two-level bootstrap draws of outcomes [repeats, samples] (or [k, repeats, samples]:
    the same draws for each of the k stacked matrices, which is what a paired difference needs)."""
    stacked = outcomes if outcomes.ndim == 3 else outcomes[None]
    _, repeats, samples = stacked.shape
    which_repeat = rng.integers(0, repeats, size=(resamples, repeats))
    which_sample = rng.integers(0, samples, size=(resamples, repeats, samples))
    drawn = stacked[:, which_repeat[..., None], which_sample]  # [k, resamples, repeats, samples]
    means = drawn.mean(axis=(2, 3))
    return means if outcomes.ndim == 3 else means[0]


def bootstrap_ci(outcomes: np.ndarray, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """95 % percentile interval of the mean accuracy of outcomes [repeats, samples] (two-level bootstrap)."""
    outcomes = np.asarray(outcomes, dtype=np.float64)
    means = _resampled_means(outcomes, resamples, np.random.default_rng(seed))
    tail = (1 - CONFIDENCE) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def paired_bootstrap_ci(
    outcomes_a: np.ndarray, outcomes_b: np.ndarray, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """95 % percentile interval of accuracy(a) - accuracy(b), both [repeats, samples] on the same splits."""
    a = np.asarray(outcomes_a, dtype=np.float64)
    b = np.asarray(outcomes_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in shape: {a.shape} and {b.shape}")
    means = _resampled_means(np.stack([a, b]), resamples, np.random.default_rng(seed))
    diff = means[0] - means[1]
    tail = (1 - CONFIDENCE) / 2 * 100
    return float(np.percentile(diff, tail)), float(np.percentile(diff, 100 - tail))


def mcnemar_exact(outcomes_a: np.ndarray, outcomes_b: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test on the pooled pairs: (a right and b wrong, a wrong and b right, two-sided p).

    Pooling the repeats treats every (repeat, sample) pair as independent, which ignores the
    training run's own variance; read it together with paired_bootstrap_ci, which does not."""
    a = np.asarray(outcomes_a).astype(bool).ravel()
    b = np.asarray(outcomes_b).astype(bool).ravel()
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 0, 0, 1.0
    return only_a, only_b, float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error over all the comparisons given)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
