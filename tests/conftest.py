"""Shared fixtures: a tiny space and study so end-to-end tests finish in seconds."""

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
