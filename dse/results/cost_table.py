"""The per-layer cost table of one candidate, as `dse estimate` and `dse train` print it and the HTML
report embeds it: one row per weight layer, the total, then latency, throughput, energy split and
device utilisation. Rendering only: the figures are the CostReport's; on a calibrated target (template
constants other than the defaults) LUT and FF also with the default constants, side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False, markup=False)
    if not console.is_terminal:
        console.width = 200
    return console


def _si(value: float, unit: str) -> str:
    """3 significant digits with an SI prefix: 1.23 mJ, 456 uJ, 12.3 us."""
    if value == 0:
        return f"0 {unit}"
    for prefix, scale in (("", 1.0), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _count(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _bytes(n: float) -> str:
    for suffix, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {suffix}"
    return f"{n:.4g} B"


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


@dataclass(frozen=True)
class DefaultConstantResources:
    """LUT and FF of a candidate with the default template constants (per layer name, and the totals),
    for showing beside a calibrated target's figures. BRAM18, DSP, energy and latency do not depend
    on the constants."""

    layers: dict[str, tuple[int, int]]
    lut: int
    ff: int

    def to_dict(self) -> dict[str, Any]:
        return {"lut": self.lut, "ff": self.ff,
                "layers": [{"name": n, "lut": lut, "ff": ff} for n, (lut, ff) in self.layers.items()]}


def is_calibrated(target: Any) -> bool:
    """An FPGA target whose template constants differ from the defaults (a `dse calibrate` output)."""
    from cost_models.template_constants import DEFAULT_CONSTANTS

    return getattr(target, "kind", None) == "fpga" and getattr(target, "template", DEFAULT_CONSTANTS) != DEFAULT_CONSTANTS


def default_constant_resources(candidate: Any, target: Any) -> DefaultConstantResources | None:
    """The candidate's LUT/FF with the default constants when `target` is calibrated; None otherwise."""
    if target is None or not is_calibrated(target):
        return None
    from cost_models.fpga import layer_resources
    from cost_models.network import layer_specs
    from cost_models.template_constants import DEFAULT_CONSTANTS

    layers = {}
    for spec in layer_specs(candidate):
        res = layer_resources(spec, DEFAULT_CONSTANTS)
        layers[spec.name] = (res.lut, res.ff)
    return DefaultConstantResources(layers, sum(v[0] for v in layers.values()), sum(v[1] for v in layers.values()))


def layer_table(candidate: Any, report: Any, default: DefaultConstantResources | None = None
                ) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the per-layer cost table (one row per weight layer, then the total).

    Shared by `dse estimate` and the HTML report so both show the same figures the same way. With
    `default` (a calibrated target), LUT and FF columns come in pairs: the target's (calibrated) constants,
    then the default ones ("LUT dflt", "FF dflt").
    """
    from cost_models.network import layer_specs

    fpga = report.target_kind == "fpga"
    specs = {s.name: s for s in layer_specs(candidate)}
    columns = ["layer", "shape", "W", "M/acc", "P", "memory", "events in", "ACs", "MACs", "energy", "cycles"]
    if fpga and default is not None:
        columns += ["LUT", "LUT dflt", "FF", "FF dflt", "BRAM18", "DSP", "LUT %", "FF %", "BRAM %", "DSP %"]
    elif fpga:
        columns += ["LUT", "FF", "BRAM18", "DSP", "LUT %", "FF %", "BRAM %", "DSP %"]
    rows = []
    for layer in report.layers:
        spec = specs[layer.name]
        mem = (layer.weight_memory_bits + layer.membrane_memory_bits + layer.scale_memory_bits) / 8
        row = [
            layer.name + ("" if spec.spiking else " (readout)"),
            f"{_shape(spec.in_shape)} -> {_shape(spec.out_shape)}" + (f", {spec.pool_after} pool" if spec.pool_after else ""),
            "fp" if layer.weight_bits is None else str(layer.weight_bits),
            "-" if (spec.spiking and not spec.has_membrane_state) else ("fp" if layer.membrane_bits is None else str(layer.membrane_bits)),
            str(layer.parallelism), _bytes(mem), _count(layer.input_events) if spec.input_is_spike else "dense",
            _count(layer.acs), _count(layer.macs), _si(layer.energy_mj * 1e-3, "J"), _count(layer.latency_cycles),
        ]
        if fpga:
            row += _resources(layer.lut, layer.ff, default.layers.get(layer.name) if default else None, default is not None)
            row += [_count(layer.bram18), _count(layer.dsp),
                    _pct(layer.lut_util_pct), _pct(layer.ff_util_pct), _pct(layer.bram_util_pct), _pct(layer.dsp_util_pct)]
        rows.append(row)
    total = ["total", "", "", "", "", _bytes(report.memory_bytes), "", _count(report.acs), _count(report.macs),
             _si(report.energy_mj * 1e-3, "J"), _count(report.latency_cycles)]
    if fpga:
        total += _resources(report.lut, report.ff, (default.lut, default.ff) if default else None, default is not None)
        total += [_count(report.bram18), _count(report.dsp),
                  _pct(report.lut_util_pct), _pct(report.ff_util_pct), _pct(report.bram_util_pct), _pct(report.dsp_util_pct)]
    rows.append(total)
    return columns, rows


def _resources(lut: Any, ff: Any, default: tuple[int, int] | None, paired: bool) -> list[str]:
    """The LUT and FF cells: [LUT, FF], or [LUT, LUT dflt, FF, FF dflt] on a calibrated target."""
    if not paired:
        return [_count(lut), _count(ff)]
    d_lut, d_ff = default if default is not None else (None, None)
    return [_count(lut), _count(d_lut), _count(ff), _count(d_ff)]


def calibration_line(report: Any, default: DefaultConstantResources, target: Any) -> str:
    """One line comparing the calibrated and default-constant LUT/FF totals."""
    points = (getattr(target, "calibration", None) or {}).get("points")
    fitted = f"fitted to {points} synthesized designs" if points else "from the target file's fpga_template"
    return (f"calibrated template constants ({fitted}; dflt columns: the default constants): "
            f"LUT {report.lut:,} (default constants {default.lut:,}, "
            f"x{report.lut / max(default.lut, 1):.2f}), FF {report.ff:,} (default constants {default.ff:,}, "
            f"x{report.ff / max(default.ff, 1):.2f})")


def print_report(
    candidate: Any, target: Any, report: Any, rate: float, source: str, compat: Any = None, activity: str | None = None,
) -> None:
    """Per-layer + total table, then latency, throughput, energy split and device utilisation.

    `activity` says where the spikes came from (default: the assumed rate of `dse estimate`). On a
    calibrated target LUT and FF are shown with the calibrated and the default constants.
    """
    from rich.table import Table

    console = _console()
    fpga = report.target_kind == "fpga"
    if activity is None:
        activity = "lower bound: no spikes (--firing-rate 0)" if report.lower_bound else f"assumed firing rate {rate:g} spikes/neuron/timestep"
    table = Table(title=f"{candidate.summary()} on {target.name} ({activity})")
    default = default_constant_resources(candidate, target) if fpga else None
    columns, rows = layer_table(candidate, report, default)
    for col in columns:
        table.add_column(col, justify="left" if col in ("layer", "shape") else "right")
    for row in rows[:-1]:
        table.add_row(*row)
    table.add_row(*rows[-1], end_section=True)
    console.print(table)
    bound = ">= " if report.lower_bound else ""
    console.print(f"candidate {source}; target {target.name} ({target.kind}, {target.clock_hz / 1e6:g} MHz): {target.description}")
    console.print(
        f"latency {bound}{_si(report.latency_s, 's')} ({report.latency_cycles:,.0f} cycles, layers and timesteps one after "
        f"another; most in {report.bottleneck_layer}); throughput {bound.replace('>=', '<=')}"
        f"{report.throughput_inferences_per_s:,.0f} inferences/s (the next inference starts when one is done)"
    )
    console.print(
        f"energy {bound}{_si(report.energy_mj * 1e-3, 'J')} per inference: compute {_si(report.compute_energy_mj * 1e-3, 'J')}, "
        f"memory {_si(report.memory_energy_mj * 1e-3, 'J')}, static {_si(report.static_energy_mj * 1e-3, 'J')}; "
        f"memory {_bytes(report.memory_bytes)}; SOPs {bound}{report.sops:,.0f}"
    )
    if fpga:
        caps = target.capacities
        parts = [f"{name} {used:,}/{caps[key]:,} ({pct:.1f} %)" for name, used, key, pct in (
            ("LUT", report.lut, "lut", report.lut_util_pct), ("FF", report.ff, "ff", report.ff_util_pct),
            ("BRAM18", report.bram18, "bram18", report.bram_util_pct), ("DSP", report.dsp, "dsp", report.dsp_util_pct))]
        over = [p.split(" ")[0] for p, pct in zip(parts, report.utilisation().values()) if pct > 100]
        verdict = "fits" if not over else f"DOES NOT FIT ({', '.join(over)} over capacity)"
        console.print(f"device {target.name}: {'; '.join(parts)}: {verdict}")
        if default is not None:
            console.print(calibration_line(report, default, target))
    if compat is not None:
        console.print(
            f"SpikingJelly estimate_simple_energy equivalent (fp32, 45 nm regime): {_si(compat.energy_mj * 1e-3, 'J')} "
            f"(MAC {compat.mac:,.0f}, AC {compat.ac:,.0f}, SynOps {compat.synop:,.0f}, {compat.memory_access_bytes:,.0f} B)"
        )
