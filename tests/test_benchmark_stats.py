"""The quantizer benchmark's statistics (benchmarks/quantizers/stats.py) against hand computations."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _stats():
    spec = importlib.util.spec_from_file_location("quantizer_bench_stats", REPO / "benchmarks" / "quantizers" / "stats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stats = _stats()


def test_mcnemar_counts_the_discordant_pairs_and_gives_the_exact_binomial_p():
    # 8 samples only the method gets right, 2 only the twin, 5 both, 3 neither
    a = np.array([1] * 8 + [0] * 2 + [1] * 5 + [0] * 3)
    b = np.array([0] * 8 + [1] * 2 + [1] * 5 + [0] * 3)
    only_a, only_b, p = stats.mcnemar_exact(a.reshape(2, 9), b.reshape(2, 9))
    assert (only_a, only_b) == (8, 2)
    # two-sided exact: 2 x P(X >= 8 | n = 10, 1/2) = 2 x (45 + 10 + 1) / 1024
    assert p == pytest.approx(112 / 1024)


def test_mcnemar_of_identical_outcomes_is_one():
    a = np.array([[1, 0, 1], [0, 1, 1]])
    assert stats.mcnemar_exact(a, a) == (0, 0, 1.0)


def test_holm_adjusts_by_rank_and_keeps_the_order():
    # sorted: 0.01 x 4 = 0.04, 0.03 x 3 = 0.09, 0.04 x 2 = 0.08 -> 0.09 (monotone), 0.5 x 1
    assert stats.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert stats.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_bootstrap_resamples_the_repeats_not_only_the_samples():
    # one repeat all right, one all wrong: resampling samples alone would always give 0.5
    outcomes = np.array([[1.0] * 50, [0.0] * 50])
    lo, hi = stats.bootstrap_ci(outcomes, resamples=2000)
    assert (lo, hi) == (0.0, 1.0)


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_samples():
    rng = np.random.default_rng(1)
    small = (rng.random((5, 40)) < 0.8).astype(float)
    large = (rng.random((5, 4000)) < 0.8).astype(float)
    lo_s, hi_s = stats.bootstrap_ci(small, resamples=2000)
    lo_l, hi_l = stats.bootstrap_ci(large, resamples=500)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3


def test_paired_interval_is_zero_for_identical_methods_and_excludes_zero_for_a_clear_gain():
    rng = np.random.default_rng(2)
    b = (rng.random((5, 360)) < 0.5).astype(float)
    assert stats.paired_bootstrap_ci(b, b, resamples=500) == (0.0, 0.0)
    a = np.ones_like(b)
    lo, hi = stats.paired_bootstrap_ci(a, b, resamples=1000)
    assert 0 < lo <= 1 - b.mean() <= hi


def test_paired_interval_refuses_unpaired_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        stats.paired_bootstrap_ci(np.ones((5, 10)), np.ones((4, 10)))
