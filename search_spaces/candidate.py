"""The Candidate: one point of the design space, the single type that crosses every room.

Pure Python (no torch, no Optuna) so the cost models, the search and export can all share it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from search_spaces.quantizer_types import PROFILES

FAMILIES = ("mlp", "conv")
POOLING_KINDS = ("max", "avg", "none")
INPUT_KINDS = ("static", "events")  # layer 0 reads 8-bit values (MACs) or 0/1 events (ACs only)
FULL_PRECISION_BITS = 32  # bits booked for a full-precision (float32) weight or membrane


def bits_label(bits: int | None) -> str:
    """Human label of a bit width: 'fp' for full precision, else the integer."""
    return "fp" if bits is None else str(bits)


def storage_bits(bits: int | None) -> int:
    """Bits one value occupies in memory; full precision is stored as float32."""
    return FULL_PRECISION_BITS if bits is None else int(bits)


@dataclass(frozen=True)
class Candidate:
    """A quantized spiking network configuration: architecture, bit widths, timesteps, quantizer.

    `weight_bits` and `parallelism` have one entry per weight layer (hidden layers, then the
    readout); `membrane_bits` has one entry per spiking layer (the readout does not spike).
    A bit width of None means full precision (float32). `input_kind` says what layer 0 reads:
    "static" values repeated over T, or "events" (binary spikes, one frame per timestep).
    """

    family: str
    widths: tuple[int, ...]
    weight_bits: tuple[int | None, ...]
    membrane_bits: tuple[int | None, ...]
    timesteps: int
    quantizer: str = "uniform"
    quantizer_options: dict[str, Any] = field(default_factory=dict)
    pooling: tuple[str, ...] = ()
    parallelism: tuple[int, ...] = ()
    input_shape: tuple[int, ...] = (1, 8, 8)
    num_classes: int = 10
    kernel_size: int = 3
    tau: float = 2.0
    v_threshold: float = 1.0
    input_kind: str = "static"

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "weight_bits", tuple(_opt_int(b) for b in self.weight_bits))
        object.__setattr__(self, "membrane_bits", tuple(_opt_int(b) for b in self.membrane_bits))
        object.__setattr__(self, "pooling", tuple(self.pooling))
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "quantizer_options", dict(self.quantizer_options))
        if not self.parallelism:
            object.__setattr__(self, "parallelism", (1,) * self.n_weight_layers)
        object.__setattr__(self, "parallelism", tuple(int(p) for p in self.parallelism))
        self.validate()

    @property
    def n_spiking_layers(self) -> int:
        return len(self.widths)

    @property
    def n_weight_layers(self) -> int:
        return len(self.widths) + 1

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent field."""
        if self.family not in FAMILIES:
            raise ValueError(f"unknown family {self.family!r}; accepted: {', '.join(FAMILIES)}")
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be one or more positive integers, got {self.widths}")
        if len(self.weight_bits) != self.n_weight_layers:
            raise ValueError(
                f"weight_bits needs {self.n_weight_layers} entries (one per weight layer), "
                f"got {len(self.weight_bits)}"
            )
        if len(self.membrane_bits) != self.n_spiking_layers:
            raise ValueError(
                f"membrane_bits needs {self.n_spiking_layers} entries (one per spiking layer), "
                f"got {len(self.membrane_bits)}"
            )
        if len(self.parallelism) != self.n_weight_layers or any(p < 1 for p in self.parallelism):
            raise ValueError(
                f"parallelism needs {self.n_weight_layers} positive entries, got {self.parallelism}"
            )
        if self.family == "conv":
            if len(self.pooling) != len(self.widths):
                raise ValueError("pooling needs one entry per conv block")
            bad = [p for p in self.pooling if p not in POOLING_KINDS]
            if bad:
                raise ValueError(f"unknown pooling {bad[0]!r}; accepted: {', '.join(POOLING_KINDS)}")
        elif self.pooling:
            raise ValueError("pooling applies to the conv family only")
        if self.timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {self.timesteps}")
        for b in (*self.weight_bits, *self.membrane_bits):
            if b is not None and not 1 <= b <= FULL_PRECISION_BITS:
                raise ValueError(f"bit width {b} out of range 1..{FULL_PRECISION_BITS}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"unknown input_kind {self.input_kind!r}; accepted: {', '.join(INPUT_KINDS)}")
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (channels, height, width), got {self.input_shape}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-safe dict (tuples become lists, full precision stays None)."""
        d = asdict(self)
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Candidate":
        """Inverse of to_dict; unknown keys are refused so typos do not pass silently."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown candidate field(s) {unknown}; accepted: {sorted(known)}")
        kwargs = dict(data)
        for key in ("widths", "weight_bits", "membrane_bits", "pooling", "parallelism", "input_shape"):
            if key in kwargs and kwargs[key] is not None:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)

    def summary(self) -> str:
        """One-line description used in progress lines and tables."""
        arch = "-".join(str(w) for w in self.widths)
        if self.family == "conv":
            arch = "conv " + "-".join(
                f"{w}{'' if p == 'none' else p[0]}" for w, p in zip(self.widths, self.pooling)
            )
        else:
            arch = "mlp " + arch
        wb = ",".join(bits_label(b) for b in self.weight_bits)
        mb = membrane_label(self.quantizer, self.membrane_bits)
        return f"{arch} T={self.timesteps} {self.quantizer} w[{wb}] m[{mb}]"


def membrane_label(quantizer: str, membrane_bits: Any) -> str:
    """Per-layer membrane bits, or 'n/a' for a type that keeps no membrane (mfp)."""
    profile = PROFILES.get(quantizer)
    if profile is not None and not profile.has_membrane_state:
        return "n/a"
    return ",".join(bits_label(b) for b in membrane_bits)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
