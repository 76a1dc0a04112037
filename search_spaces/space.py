"""Search spaces from YAML: validated on load, turned into Optuna suggestions and Candidates.

A space lists the families (mlp: depth and widths; conv: blocks, channels, pooling), the
per-layer weight bits, the per-layer membrane bits, the timesteps, the FPGA parallelism per
layer, and the quantizer types with their options (and optional per-type bit restrictions).
Conditional parameters are defined by run: a layer's bits exist only when the layer does.

On hardware targets (fpga, asic) a space offers only what can be built: `for_target` drops the
full-precision ('fp') weight and membrane choices, unless fp is asked for as a reference
(`dse search --reference-fp`); such candidates are then searched but not deployable
(`is_deployable`). Parallelism is capped at each layer's output width in `suggest`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from search_spaces.candidate import POOLING_KINDS, Candidate
from search_spaces.yaml_files import read_named_yaml
from search_spaces.quantizer_types import PROFILES, get_profile

SPACES_DIR = Path(__file__).resolve().parent
FULL_PRECISION_LABELS = ("fp", "fp32", "full")
_TOP_KEYS = {"families", "weight_bits", "membrane_bits", "timesteps", "parallelism", "quantizers", "description"}
_FAMILY_KEYS = {"mlp": {"depth", "widths"}, "conv": {"blocks", "channels", "pooling"}}
_BIT_KEYS = ("weight_bits", "membrane_bits")
HARDWARE_KINDS = ("fpga", "asic")  # target kinds that build the network: integer weights, fixed-point membranes


class SpaceError(ValueError):
    """A malformed search space; the message names the file and the field."""



def _bits(value: Any, where: str) -> int | None:
    if isinstance(value, str) and value.lower() in FULL_PRECISION_LABELS:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpaceError(f"{where}: {value!r} is not a bit width; accepted: integers 1..16 or 'fp'")
    if not 1 <= value <= 16:
        raise SpaceError(f"{where}: bits {value} out of range; accepted: 1..16 or 'fp'")
    return value


def _label(bits: int | None) -> int | str:
    return "fp" if bits is None else bits


def _choices(data: dict[str, Any], key: str, where: str, kind: type = int, minimum: int = 1) -> tuple[Any, ...]:
    value = data.get(key)
    if value is None:
        raise SpaceError(f"{where}: missing {key!r}")
    values = value if isinstance(value, list) else [value]
    if not values:
        raise SpaceError(f"{where}: {key!r} is empty")
    for v in values:
        if kind is int and (isinstance(v, bool) or not isinstance(v, int) or v < minimum):
            raise SpaceError(f"{where}: {key!r} must hold integers >= {minimum}, got {v!r}")
        if kind is str and not isinstance(v, str):
            raise SpaceError(f"{where}: {key!r} must hold strings, got {v!r}")
    return tuple(values)


@dataclass(frozen=True)
class QuantizerChoice:
    """A quantizer type as the space allows it: options to search and bits it may take."""

    name: str
    options: dict[str, tuple[Any, ...]]
    weight_bits: tuple[int | None, ...]
    membrane_bits: tuple[int | None, ...]


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space; `suggest` draws one Candidate from an Optuna trial."""

    name: str
    families: dict[str, dict[str, tuple[Any, ...]]]
    timesteps: tuple[int, ...]
    parallelism: tuple[int, ...]
    quantizers: dict[str, QuantizerChoice]
    shipped: bool = False  # one of search_spaces/*.yaml: their fp choices exist for --reference-fp, so no warning

    def digest(self) -> str:
        """A short hash of the space's content (not its name nor origin): a study resumes only the same choices."""
        fields = asdict(self)
        fields.pop("shipped")
        content = json.dumps(fields | {"name": None}, sort_keys=True, default=repr)
        return hashlib.sha256(content.encode()).hexdigest()[:16]

    @classmethod
    def load(cls, name_or_path: str) -> "SearchSpace":
        """Load a shipped space by name or a user's YAML file by path."""
        try:
            path, data = read_named_yaml(name_or_path, SPACES_DIR, "space")
        except ValueError as exc:
            raise SpaceError(str(exc)) from None
        space = cls.from_dict(data, str(path), name=path.stem)
        return replace(space, shipped=path.resolve().parent == SPACES_DIR.resolve())

    @classmethod
    def from_dict(cls, data: Any, source: str = "<space>", name: str = "space") -> "SearchSpace":
        if not isinstance(data, dict):
            raise SpaceError(f"{source}: a space must be a mapping with keys {sorted(_TOP_KEYS)}")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise SpaceError(f"{source}: unknown key(s) {unknown}; accepted: {sorted(_TOP_KEYS)}")
        families = cls._families(data.get("families"), source)
        global_bits = {
            key: tuple(_bits(b, f"{source}: {key}") for b in _choices(data, key, source, kind=object))
            for key in _BIT_KEYS
        }
        timesteps = _choices(data, "timesteps", source)
        parallelism = _choices(data, "parallelism", source) if "parallelism" in data else (1,)
        quantizers = cls._quantizers(data.get("quantizers", {"uniform": {}}), global_bits, source)
        return cls(name, families, timesteps, parallelism, quantizers)

    @staticmethod
    def _families(data: Any, source: str) -> dict[str, dict[str, tuple[Any, ...]]]:
        if not isinstance(data, dict) or not data:
            raise SpaceError(f"{source}: 'families' must map family names to settings; accepted families: mlp, conv")
        families: dict[str, dict[str, tuple[Any, ...]]] = {}
        for family, settings in data.items():
            where = f"{source}: families.{family}"
            if family not in _FAMILY_KEYS:
                raise SpaceError(f"{source}: unknown family {family!r}; accepted: mlp, conv")
            if not isinstance(settings, dict):
                raise SpaceError(f"{where} must be a mapping with keys {sorted(_FAMILY_KEYS[family])}")
            unknown = sorted(set(settings) - _FAMILY_KEYS[family])
            if unknown:
                raise SpaceError(f"{where}: unknown key(s) {unknown}; accepted: {sorted(_FAMILY_KEYS[family])}")
            if family == "mlp":
                families[family] = {"depth": _choices(settings, "depth", where), "widths": _choices(settings, "widths", where)}
            else:
                pooling = _choices(settings, "pooling", where, kind=str) if "pooling" in settings else ("max",)
                bad = [p for p in pooling if p not in POOLING_KINDS]
                if bad:
                    raise SpaceError(f"{where}: unknown pooling {bad[0]!r}; accepted: {', '.join(POOLING_KINDS)}")
                families[family] = {
                    "blocks": _choices(settings, "blocks", where),
                    "channels": _choices(settings, "channels", where),
                    "pooling": pooling,
                }
        return families

    @staticmethod
    def _quantizers(data: Any, global_bits: dict[str, tuple[int | None, ...]], source: str) -> dict[str, QuantizerChoice]:
        if isinstance(data, list):
            data = {name: {} for name in data}
        if not isinstance(data, dict) or not data:
            raise SpaceError(f"{source}: 'quantizers' must list quantizer types; accepted: {', '.join(PROFILES)}")
        choices: dict[str, QuantizerChoice] = {}
        for name, settings in data.items():
            where = f"{source}: quantizers.{name}"
            try:
                profile = get_profile(name)
            except ValueError as exc:
                raise SpaceError(f"{source}: {exc}") from None
            settings = settings or {}
            if not isinstance(settings, dict):
                raise SpaceError(f"{where} must be a mapping of options and bit restrictions")
            bits: dict[str, tuple[int | None, ...]] = {}
            for key in _BIT_KEYS:
                if key in settings:
                    bits[key] = tuple(_bits(b, f"{where}.{key}") for b in _choices(settings, key, where, kind=object))
                    check = profile.check_weight_bits if key == "weight_bits" else profile.check_membrane_bits
                    for b in bits[key]:
                        try:
                            check(b)
                        except ValueError as exc:
                            raise SpaceError(f"{where}: {exc}") from None
                else:
                    allowed = profile.weight_bits if key == "weight_bits" else profile.membrane_bits
                    bits[key] = tuple(b for b in global_bits[key] if b in allowed)
            if not bits["weight_bits"]:
                raise SpaceError(f"{where}: none of the space's weight bits suit {name!r}; it accepts {_show(profile.weight_bits)}")
            if profile.edge_layer_bits is not None and not profile.hidden_weight_bits(bits["weight_bits"]):
                raise SpaceError(
                    f"{where}: {name!r} pins its first and last layers to {profile.edge_layer_bits} bits; "
                    f"its hidden layers need one of {_show(profile.hidden_weight_bits())} among the weight bits"
                )
            if profile.membrane_bits and not bits["membrane_bits"]:
                raise SpaceError(f"{where}: none of the space's membrane bits suit {name!r}; it accepts {_show(profile.membrane_bits)}")
            options: dict[str, tuple[Any, ...]] = {}
            for key, values in settings.items():
                if key in _BIT_KEYS:
                    continue
                values = tuple(values) if isinstance(values, list) else (values,)
                for v in values:
                    try:
                        profile.check_options({key: v})
                    except ValueError as exc:
                        raise SpaceError(f"{where}: {exc}") from None
                options[key] = values
            for key, default in profile.default_options.items():
                options.setdefault(key, (default,))
            choices[name] = QuantizerChoice(name, options, bits["weight_bits"], bits["membrane_bits"])
        return choices

    def full_precision_offered(self) -> tuple[str, ...]:
        """Which of 'weights', 'membranes' some quantizer of the space offers in full precision ('fp')."""
        offered = []
        if any(None in q.weight_bits for q in self.quantizers.values()):
            offered.append("weights")
        if any(None in q.membrane_bits for q in self.quantizers.values()):
            offered.append("membranes")
        return tuple(offered)

    def without_full_precision(self, why: str = "") -> "SearchSpace":
        """The same space without its fp weight and membrane choices; SpaceError when a quantizer keeps nothing."""
        quantizers: dict[str, QuantizerChoice] = {}
        for name, q in self.quantizers.items():
            weight_bits = tuple(b for b in q.weight_bits if b is not None)
            membrane_bits = tuple(b for b in q.membrane_bits if b is not None)
            profile = get_profile(name)
            if not weight_bits or (profile.edge_layer_bits is not None and not profile.hidden_weight_bits(weight_bits)):
                raise SpaceError(f"space {self.name!r}: quantizer {name!r} offers only full-precision (fp) weight bits{why}; "
                                 "give it integer weight bits, or search fp as a reference with --reference-fp")
            if q.membrane_bits and not membrane_bits:
                raise SpaceError(f"space {self.name!r}: quantizer {name!r} offers only full-precision (fp) membrane bits{why}; "
                                 "give it integer membrane bits, or search fp as a reference with --reference-fp")
            quantizers[name] = replace(q, weight_bits=weight_bits, membrane_bits=membrane_bits)
        return replace(self, quantizers=quantizers)

    def for_target(self, target_name: str, target_kind: str, reference_fp: bool = False) -> tuple["SearchSpace", str | None]:
        """The space a search on this target explores, and the one warning line to show (None: nothing to say).

        On a hardware target (fpga, asic) fp weights and membranes cannot be built: without `reference_fp` they
        are dropped from the space (the warning says so for a user's space file; the shipped spaces list fp only
        for --reference-fp, so they drop it silently); with it they are kept, and the runner marks the trials
        that draw them `deployable: false` (kept off the deployable front)."""
        offered = self.full_precision_offered()
        if target_kind not in HARDWARE_KINDS or not offered or reference_fp:
            return self, None
        what = " and ".join(offered)
        space = self.without_full_precision(f", which {target_name} ({target_kind}) cannot build")
        if self.shipped:  # the shipped spaces list fp for --reference-fp: leaving it out on hardware is the default
            return space, None
        return space, (
            f"warning: space {self.name!r} offers full-precision (fp) {what}, which {target_name} ({target_kind}) "
            f"cannot build: those points are not deployable and are left out of this search (give --reference-fp "
            f"to search them as reference points, marked not deployable)"
        )

    def suggest(
        self, trial: Any, input_shape: tuple[int, int, int], num_classes: int, input_kind: str = "static"
    ) -> Candidate:
        """Draw a Candidate from an Optuna trial (define-by-run, conditional per-layer parameters);
        shape, classes and input kind (static values or events) come from the data set."""
        family = trial.suggest_categorical("family", list(self.families))
        settings = self.families[family]
        pooling: list[str] = []
        if family == "mlp":
            depth = trial.suggest_categorical("mlp_depth", list(settings["depth"]))
            widths = [trial.suggest_categorical(f"mlp_width_{i}", list(settings["widths"])) for i in range(depth)]
        else:
            blocks = trial.suggest_categorical("conv_blocks", list(settings["blocks"]))
            widths, size = [], min(input_shape[1:])
            for i in range(blocks):
                widths.append(trial.suggest_categorical(f"conv_channels_{i}", list(settings["channels"])))
                pool = trial.suggest_categorical(f"conv_pool_{i}", list(settings["pooling"]))
                if pool != "none" and size < 2:
                    pool = "none"  # nothing left to pool: the feature map is already 1x1
                size = size // 2 if pool != "none" else size
                pooling.append(pool)
        timesteps = trial.suggest_categorical("timesteps", list(self.timesteps))
        name = trial.suggest_categorical("quantizer", list(self.quantizers))
        q = self.quantizers[name]
        options = {key: trial.suggest_categorical(f"{name}_{key}", list(values)) for key, values in q.options.items()}
        n_weight = len(widths) + 1
        profile = get_profile(name)
        weight_bits = []
        for i in range(n_weight):
            layer_bits = profile.layer_weight_bits(i, n_weight, q.weight_bits, options)
            if profile.edge_bits(options) is not None and i in (0, n_weight - 1):
                # Pinned edge layer (Q-SNN's and TaWQ's 8-bit first/readout layers): no Optuna parameter, since
                # the readout's index moves with depth and one name must keep one set of choices.
                weight_bits.append(layer_bits[0])
                continue
            weight_bits.append(
                _from_label(trial.suggest_categorical(f"{name}_wbits_{i}", [_label(b) for b in layer_bits]))
            )
        if q.membrane_bits:
            membrane_bits = [
                _from_label(trial.suggest_categorical(f"{name}_mbits_{i}", [_label(b) for b in q.membrane_bits]))
                for i in range(len(widths))
            ]
        else:
            membrane_bits = [None] * len(widths)
        # P is capped at the layer's output width (neurons, channels, classes for the readout): more units than
        # outputs would idle. The parameter keeps its one name and full choice list for every layer and depth
        # (Optuna needs one distribution per name; TPE keeps learning one parameter, not one per width), and a
        # choice above the width is clamped to the width: fully parallel.
        out_widths = [*widths, num_classes]
        parallelism = [
            min(trial.suggest_categorical(f"parallelism_{i}", list(self.parallelism)), out_widths[i]) for i in range(n_weight)
        ]
        return Candidate(
            family=family, widths=tuple(widths), weight_bits=tuple(weight_bits),
            membrane_bits=tuple(membrane_bits), timesteps=timesteps, quantizer=name,
            quantizer_options=options, pooling=tuple(pooling), parallelism=tuple(parallelism),
            input_shape=input_shape, num_classes=num_classes, input_kind=input_kind,
        )


def is_deployable(candidate: Candidate) -> bool:
    """Whether hardware can build the candidate: integer weights in every layer and fixed-point membranes
    (a quantizer that keeps no membrane, like mfp, has none to build)."""
    if any(b is None for b in candidate.weight_bits):
        return False
    profile = PROFILES.get(candidate.quantizer)
    has_membranes = profile is None or bool(profile.membrane_bits)
    return not (has_membranes and any(b is None for b in candidate.membrane_bits))


def _from_label(value: int | str) -> int | None:
    return None if value == "fp" else int(value)


def _show(bits: tuple[int | None, ...]) -> str:
    return ", ".join(str(_label(b)) for b in bits)

