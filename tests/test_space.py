"""Search spaces: shipped spaces load, bad YAML is refused with the file and field named."""

import optuna
import pytest

from search_spaces.space import SearchSpace, SpaceError

GOOD = """
families:
  mlp: {depth: [1, 2], widths: [16, 32]}
  conv: {blocks: [1, 3], channels: [4], pooling: [max, none]}
weight_bits: [1, 2, 4, fp]
membrane_bits: [4, 8, fp]
timesteps: [1, 2]
quantizers:
  uniform: {scale: [mean, learned]}
"""


def write(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


def test_default_space_loads():
    space = SearchSpace.load("default")
    assert set(space.families) == {"mlp", "conv"}
    assert "uniform" in space.quantizers


def test_suggest_gives_consistent_candidates(tmp_path):
    space = SearchSpace.load(write(tmp_path, GOOD))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        cand = space.suggest(trial, (1, 8, 8), 10)
        assert len(cand.weight_bits) == len(cand.widths) + 1
        assert len(cand.membrane_bits) == len(cand.widths)
        assert all(b in (1, 2, 4, None) for b in cand.weight_bits)
        assert cand.timesteps in (1, 2)
        seen.add(cand.family)
        if cand.family == "conv":
            size = 8
            for p in cand.pooling:
                size = size // 2 if p != "none" else size
            assert size >= 1
        study.tell(trial, 0.0)
    assert seen == {"mlp", "conv"}


@pytest.mark.parametrize(
    "text, fragment",
    [
        (GOOD.replace("mlp:", "transformer:"), "unknown family 'transformer'"),
        (GOOD.replace("uniform:", "fancy:"), "unknown quantizer 'fancy'"),
        (GOOD.replace("[1, 2, 4, fp]", "[1, 2, 40]"), "bits 40 out of range"),
        (GOOD.replace("[4, 8, fp]", "[1, 8]") .replace("{scale: [mean, learned]}", "{membrane_bits: [1]}"), "cannot take membrane bits 1"),
        (GOOD.replace("scale: [mean, learned]", "scale: [median]"), "option 'scale' cannot be 'median'"),
        (GOOD.replace("scale: [mean, learned]", "rounding: [up]"), "has no option 'rounding'"),
        (GOOD + "\nextra: 1\n", "unknown key"),
        ("families: [oops\n", "not valid YAML"),
        ("- 1\n- 2\n", "must be a mapping"),
        (GOOD.replace("timesteps: [1, 2]", "timesteps: [0]"), "integers >= 1"),
    ],
)
def test_bad_spaces(tmp_path, text, fragment):
    with pytest.raises(SpaceError, match=fragment):
        SearchSpace.load(write(tmp_path, text))


def test_unknown_space_name():
    with pytest.raises(SpaceError, match="unknown space 'nope'"):
        SearchSpace.load("nope")
