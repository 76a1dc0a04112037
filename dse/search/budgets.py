"""Parsing of budgets from the command line: '0.6mJ', '64KiB', 'lut=20000', 'latency=2ms'.

Budgets are kept in the cost model's base units: energy in mJ, memory in bytes, latency in s,
counts (sops, lut, ff, bram18, dsp) as plain numbers.
"""

from __future__ import annotations

import re

ENERGY_MJ_PER_UNIT = {"j": 1e3, "mj": 1.0, "uj": 1e-3, "nj": 1e-6}
MEMORY_BYTES_PER_UNIT = {
    "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3,
}
LATENCY_S_PER_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
QUANTITIES = ("energy", "memory", "sops", "latency", "lut", "ff", "bram", "dsp")
UNITS_BY_QUANTITY = {"energy": ENERGY_MJ_PER_UNIT, "memory": MEMORY_BYTES_PER_UNIT, "latency": LATENCY_S_PER_UNIT}
ACCEPTED = (
    "accepted: an energy like 0.6mJ (J, mJ, uJ, nJ), a memory like 64KiB (B, KB, KiB, MB, MiB), "
    "or key=value with key in " + ", ".join(QUANTITIES) + " (e.g. lut=20000, bram=100, latency=2ms)"
)
_NUMBER_UNIT = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_budget(text: str) -> tuple[str, float]:
    """Parse one budget into (quantity, limit in base units); ValueError with a one-line reason."""
    raw = text.strip()
    if "=" in raw:
        key, _, value = raw.partition("=")
        key = key.strip().lower()
        if key not in QUANTITIES:
            raise ValueError(f"unknown budget quantity {key!r} in {text!r}; {ACCEPTED}")
        return key, _parse_value(value, key, text)
    match = _NUMBER_UNIT.match(raw)
    unit = match.group(2).lower() if match else ""
    for quantity, units in UNITS_BY_QUANTITY.items():
        if quantity != "latency" and unit in units:
            return quantity, _parse_value(raw, quantity, text)
    raise ValueError(f"malformed budget {text!r}; {ACCEPTED}")


def _parse_value(value: str, quantity: str, original: str) -> float:
    match = _NUMBER_UNIT.match(value)
    if not match:
        raise ValueError(f"malformed budget {original!r}; {ACCEPTED}")
    number = float(match.group(1))
    unit = match.group(2).lower()
    units = UNITS_BY_QUANTITY.get(quantity)
    if units is None:
        if unit:
            raise ValueError(f"budget {original!r}: {quantity} is a count and takes no unit")
        factor = 1.0
    elif unit == "":
        raise ValueError(f"budget {original!r} needs a unit: {', '.join(units)}")
    elif unit not in units:
        raise ValueError(f"budget {original!r}: unit {match.group(2)!r} is not one of {', '.join(units)}")
    else:
        factor = units[unit]
    limit = number * factor
    if not limit > 0:
        raise ValueError(f"budget {original!r} must be positive")
    return limit


def parse_budgets(texts: list[str]) -> dict[str, float]:
    """Parse repeated --budget values; a quantity given twice is refused."""
    budgets: dict[str, float] = {}
    for text in texts:
        quantity, limit = parse_budget(text)
        if quantity in budgets:
            raise ValueError(f"budget on {quantity} given twice ({text!r})")
        budgets[quantity] = limit
    return budgets


def format_budget(quantity: str, limit: float) -> str:
    """Human form of a budget in its natural unit."""
    if quantity == "energy":
        return f"{limit:g} mJ"
    if quantity == "memory":
        return f"{limit / 1024:g} KiB"
    if quantity == "latency":
        return f"{limit * 1e3:g} ms"
    return f"{quantity}={limit:g}"
