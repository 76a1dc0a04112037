"""Budget parsing: units convert to base units; malformed budgets are refused with a reason."""

import pytest

from dse.search.budgets import parse_budget, parse_budgets


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.6mJ", ("energy", 0.6)),
        ("600uJ", ("energy", 0.6)),
        ("0.0006J", ("energy", 0.6)),
        ("5 nJ", ("energy", 5e-6)),
        ("64KiB", ("memory", 65536)),
        ("2MB", ("memory", 2e6)),
        ("100B", ("memory", 100)),
        ("lut=20000", ("lut", 20000)),
        ("bram=100", ("bram", 100)),
        ("energy=0.6mJ", ("energy", 0.6)),
        ("latency=2ms", ("latency", 0.002)),
        ("sops=1e6", ("sops", 1e6)),
    ],
)
def test_good_budgets(text, expected):
    quantity, limit = parse_budget(text)
    assert quantity == expected[0]
    assert limit == pytest.approx(expected[1])


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("0.6 jm", "malformed"),
        ("-1mJ", "positive"),
        ("abc", "malformed"),
        ("0mJ", "positive"),
        ("lut=20k", "count"),
        ("power=3W", "unknown budget quantity"),
        ("energy=5", "needs a unit"),
        ("memory=3mJ", "not one of"),
    ],
)
def test_bad_budgets(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_budget(text)


def test_budget_given_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        parse_budgets(["0.6mJ", "energy=1mJ"])
