"""What each quantizer type allows and what it means for hardware, in pure Python.

The torch side of a type lives in dse/quantizers/; this profile is what the search space
validates against and what the cost models read (they may not import torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class QuantizerProfile:
    """Bits a quantizer type accepts, its options, and the facts the cost model needs."""

    name: str
    paper: str
    weight_bits: tuple[int | None, ...]  # accepted weight widths; None = full precision
    membrane_bits: tuple[int | None, ...]  # accepted membrane widths; () = not applicable
    options: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # option -> accepted values
    default_options: dict[str, Any] = field(default_factory=dict)
    option_help: dict[str, str] = field(default_factory=dict)  # option -> what its values mean (one line)
    has_membrane_state: bool = True  # False: the neuron keeps no membrane between timesteps
    weights_per_timestep: bool = False  # True: a different weight set is read at every timestep
    # Bits stored per weight for a given weight width and T (the storage encoding).
    storage_bits_per_weight: Callable[[int | None, int], int] | None = None
    # Width pinned for the first and the readout layer (Q-SNN's and TaWQ's 8-bit edges); None = no pinning.
    # The other (hidden) layers then take hidden_layer_bits, or else the accepted widths other than this one.
    edge_layer_bits: int | None = None
    # The option whose value replaces edge_layer_bits (TaWQ's `edge_bits`); None: the pinning is fixed.
    edge_bits_option: str | None = None
    # Widths a hidden layer may take (None: every accepted width but edge_layer_bits).
    hidden_layer_bits: tuple[int | None, ...] | None = None
    # Widths read as ONE weight set although the type reads a set per timestep (TaWQ's 8-bit edges).
    single_set_bits: tuple[int | None, ...] = ()

    def edge_bits(self, options: dict[str, Any] | None = None) -> int | None:
        """The width pinned for the first and the readout layer under `options` (None: not pinned)."""
        if self.edge_bits_option is not None and options and self.edge_bits_option in options:
            return options[self.edge_bits_option]
        return self.edge_layer_bits

    def hidden_weight_bits(self, allowed: tuple[int | None, ...] | None = None) -> tuple[int | None, ...]:
        """Widths a hidden (non-edge) layer may take among `allowed` (default: all accepted)."""
        allowed = self.weight_bits if allowed is None else allowed
        if self.hidden_layer_bits is not None:
            return tuple(b for b in allowed if b in self.hidden_layer_bits)
        if self.edge_layer_bits is None:
            return tuple(allowed)
        return tuple(b for b in allowed if b != self.edge_layer_bits)

    def layer_weight_bits(
        self, index: int, n_weight_layers: int, allowed: tuple[int | None, ...] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[int | None, ...]:
        """Widths weight layer `index` may take under `options`: the pinned edge width, or the hidden widths."""
        edge = self.edge_bits(options)
        if edge is not None and index in (0, n_weight_layers - 1):
            return (edge,)
        return self.hidden_weight_bits(allowed)

    def reads_weights_per_timestep(self, bits: int | None) -> bool:
        """Whether a layer of this width reads a different weight set at every timestep."""
        return self.weights_per_timestep and bits not in self.single_set_bits

    def check_weight_bits(self, bits: int | None) -> None:
        if bits not in self.weight_bits:
            raise ValueError(
                f"quantizer {self.name!r} cannot take weight bits {_label(bits)}; "
                f"accepted: {_labels(self.weight_bits)}"
            )

    def check_membrane_bits(self, bits: int | None) -> None:
        if not self.membrane_bits:
            raise ValueError(f"quantizer {self.name!r} keeps no membrane: membrane bits do not apply")
        if bits not in self.membrane_bits:
            raise ValueError(
                f"quantizer {self.name!r} cannot take membrane bits {_label(bits)}; "
                f"accepted: {_labels(self.membrane_bits)}"
            )

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Return the options merged over the defaults; refuse unknown keys and values."""
        merged = dict(self.default_options)
        for key, value in options.items():
            if key not in self.options:
                accepted = ", ".join(sorted(self.options)) or "none"
                raise ValueError(f"quantizer {self.name!r} has no option {key!r}; accepted: {accepted}")
            if value not in self.options[key]:
                meaning = f" ({self.option_help[key]})" if key in self.option_help else ""
                raise ValueError(
                    f"quantizer {self.name!r} option {key!r} cannot be {value!r}; "
                    f"accepted: {', '.join(map(str, self.options[key]))}{meaning}"
                )
            merged[key] = value
        return merged


def _label(bits: int | None) -> str:
    return "fp" if bits is None else str(bits)


def _labels(bits: tuple[int | None, ...]) -> str:
    return ", ".join(_label(b) for b in bits)


_INT_BITS = tuple(range(1, 17))

PROFILES: dict[str, QuantizerProfile] = {
    "uniform": QuantizerProfile(
        name="uniform",
        paper="symmetric uniform k-bit fake quantization with STE (LSQ, Esser et al., ICLR 2020)",
        weight_bits=(*_INT_BITS, None),
        membrane_bits=(*range(2, 17), None),  # a membrane needs a sign bit and the threshold bit
        options={"scale": ("mean", "max", "learned")},
        default_options={"scale": "mean"},
    ),
    "tawq": QuantizerProfile(
        name="tawq",
        paper="TaWQ: temporal-adaptive weight quantization for SNNs (arXiv 2511.17567, 2025)",
        # 2: ternary {-1, 0, +1} per timestep, one 2-bit code per weight and timestep (hidden layers);
        # 8: one 8-bit uniform weight set, the first and the readout layer (edge_bits: 8, the default)
        weight_bits=(2, 8),
        membrane_bits=(*range(2, 17), None),
        options={"scale": ("paper", "latent"), "edge_bits": (8, 2), "affine": ("scale", "none", "scale_shift")},
        default_options={"scale": "paper", "edge_bits": 8, "affine": "scale"},
        option_help={
            "scale": "paper: 1 / mean|s_t| per timestep and channel, as the authors; latent: times mean|W| (proposal)",
            "edge_bits": "8: first and readout layer 8-bit uniform (the authors keep them full precision); "
                         "2: ternary per timestep like the hidden layers",
            "affine": "scale: learned per-channel gain folded into the multiplier (batch-norm stand-in); none; "
                      "scale_shift: plus a per-channel shift, no integer form (screened on hardware targets)",
        },
        weights_per_timestep=True,
        # Stored as T ternary codes of 2 bits (dse/quantizers/tawq.py explains the choice); 8-bit edges: 8 bits.
        storage_bits_per_weight=lambda bits, T: 2 * T if bits == 2 else (32 if bits is None else int(bits)),
        edge_layer_bits=8,
        edge_bits_option="edge_bits",
        hidden_layer_bits=(2,),
        single_set_bits=(8, None),
    ),
    "qsnn": QuantizerProfile(
        name="qsnn",
        paper="Q-SNN with weight-spike dual regulation (Wei et al., ACM MM 2024, arXiv 2406.13672)",
        weight_bits=(1, 8),  # binary hidden layers; the first and the readout layer are 8-bit
        membrane_bits=(*range(2, 17), None),
        options={"rate_layers": ("inner", "all"), "affine": ("scale", "none")},
        default_options={"rate_layers": "inner", "affine": "scale"},
        option_help={
            "rate_layers": "inner: the authors' fire_rate[1:-1] with three or more LIF layers, else every LIF layer; "
                           "all: every LIF layer",
            "affine": "scale: learned per-channel gain on binary layers, exp(l_c) / sqrt(fan_in), folded into the "
                      "multiplier (batch-norm stand-in); none: the authors' power-of-two scale alone",
        },
        edge_layer_bits=8,
    ),
    "mfp": QuantizerProfile(
        name="mfp",
        paper="MFP-QSNN: memory-free and parallel quantized SNN (Zhang et al., ICASSP 2025, arXiv 2503.00040)",
        weight_bits=(*range(1, 9), None),
        membrane_bits=(),  # reset-free closed-form integration: no membrane register to quantize
        has_membrane_state=False,
    ),
    "ternary": QuantizerProfile(
        name="ternary",
        paper="Ternary quantization of SNNs (Wu et al., Front. Comput. Sci. 21(2):2102326)",
        weight_bits=(2,),
        membrane_bits=(*range(2, 17), None),
        options={"algorithm": ("twn", "ttq"), "distill": (False, True), "scales": ("direct", "log")},
        default_options={"algorithm": "twn", "distill": False, "scales": "direct"},
        option_help={
            "algorithm": "twn: Ternary Weight Networks (Li et al. 2016), ttq: Trained Ternary Quantization (Zhu et al. "
                         "2017); the paper's abstract names neither of its two algorithms, so both are proposals",
            "distill": "true: ternarization-aware distillation (the paper's keyword) from a full-precision teacher",
            "scales": "ttq's two scales learned as themselves (direct: as TTQ's paper; can turn negative and silence "
                      "a layer) or as logarithms (log: always positive, slower to grow)",
        },
    ),
    "sigmoid": QuantizerProfile(
        name="sigmoid",
        paper="Differentiable quantization function for SNN QAT (Shymyrbay, Fouda, Eltawil, IJCNN 2023)",
        weight_bits=(1, 2, 3, 4, 8),
        membrane_bits=(*range(2, 17), None),
        options={"temperature": (10, 20)},
        default_options={"temperature": 10},
    ),
}


def get_profile(name: str) -> QuantizerProfile:
    """The profile of a registered quantizer type, or ValueError naming the accepted ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown quantizer {name!r}; accepted: {', '.join(PROFILES)}") from None
