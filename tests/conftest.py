"""Shared fixtures: a tiny space and study so end-to-end tests finish in seconds, the digits data set
(loaded once per session) and a factory of search settings."""

import os

import pytest

TINY_SPACE = """
families:
  mlp: {depth: [1], widths: [16, 32]}
weight_bits: [2, 4, fp]
membrane_bits: [6, fp]
timesteps: [1, 2]
parallelism: [4]
quantizers:
  uniform: {scale: [mean]}
"""


@pytest.fixture
def tiny_space(tmp_path):
    path = tmp_path / "tiny-space.yaml"
    path.write_text(TINY_SPACE)
    return str(path)


@pytest.fixture
def tiny_study(tmp_path, tiny_space):
    path = tmp_path / "tiny-study.yaml"
    path.write_text(
        f"name: tiny\ndataset: digits\nspace: {tiny_space}\ntarget: fpga-small\n"
        "objectives: [accuracy, energy]\nbudgets: [0.6mJ]\ntrials: 4\n"
        "fidelity: {epochs: 1, batch_size: 64, lr: 0.01}\nsampler: tpe\nseed: 0\n"
    )
    return str(path)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits split with seed 0, loaded once for the whole session (treat as read-only)."""
    from dse.training.data import load_dataset

    return load_dataset("digits", seed=0)


@pytest.fixture
def make_settings(tmp_path, tiny_space):
    """make_settings(**overrides) -> SearchSettings: a one-trial random search of the tiny space on fpga-small,
    stored in tmp_path/<study_name>.db. `space` and `target` also take a path or name (loaded at each call);
    every other keyword is a SearchSettings field."""
    from cost_models.targets import load_target
    from dse.search.study import SearchSettings
    from dse.training.train import Fidelity
    from search_spaces.space import SearchSpace

    def make(**overrides):
        study_name = overrides.get("study_name", "s")
        fields = {
            "study_name": study_name, "storage_url": f"sqlite:///{tmp_path / (study_name + '.db')}",
            "space": tiny_space, "target": "fpga-small", "budgets": {}, "objectives": ("accuracy", "energy"),
            "trials": 1, "timeout_s": None, "fidelity": Fidelity(epochs=1), "sampler": "random", "seed": 0,
            "dataset": "digits", **overrides,
        }
        if isinstance(fields["space"], (str, os.PathLike)):
            fields["space"] = SearchSpace.load(str(fields["space"]))
        if isinstance(fields["target"], str):
            fields["target"] = load_target(fields["target"])
        return SearchSettings(**fields)

    return make
