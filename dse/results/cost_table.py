"""The per-layer cost table of one candidate, as `dse estimate` and `dse train` print it and the HTML
report embeds it: one row per weight layer, the total, then latency, throughput, energy split and
device utilisation. Rendering only: the figures are the CostReport's."""

from __future__ import annotations

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


def layer_table(candidate: Any, report: Any) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the per-layer cost table (one row per weight layer, then the total).

    Shared by `dse estimate` and the HTML report so both show the same figures the same way.
    """
    from cost_models.network import layer_specs

    fpga = report.target_kind == "fpga"
    specs = {s.name: s for s in layer_specs(candidate)}
    columns = ["layer", "shape", "W", "M/acc", "P", "memory", "events in", "ACs", "MACs", "energy", "cycles"]
    if fpga:
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
            row += [_count(layer.lut), _count(layer.ff), _count(layer.bram18), _count(layer.dsp),
                    _pct(layer.lut_util_pct), _pct(layer.ff_util_pct), _pct(layer.bram_util_pct), _pct(layer.dsp_util_pct)]
        rows.append(row)
    total = ["total", "", "", "", "", _bytes(report.memory_bytes), "", _count(report.acs), _count(report.macs),
             _si(report.energy_mj * 1e-3, "J"), _count(report.latency_cycles)]
    if fpga:
        total += [_count(report.lut), _count(report.ff), _count(report.bram18), _count(report.dsp),
                  _pct(report.lut_util_pct), _pct(report.ff_util_pct), _pct(report.bram_util_pct), _pct(report.dsp_util_pct)]
    rows.append(total)
    return columns, rows


def print_report(
    candidate: Any, target: Any, report: Any, rate: float, source: str, compat: Any = None, activity: str | None = None,
) -> None:
    """Per-layer + total table, then latency, throughput, energy split and device utilisation.

    `activity` says where the spikes came from (default: the assumed rate of `dse estimate`).
    """
    from rich.table import Table

    console = _console()
    fpga = report.target_kind == "fpga"
    if activity is None:
        activity = "lower bound: no spikes (--firing-rate 0)" if report.lower_bound else f"assumed firing rate {rate:g} spikes/neuron/timestep"
    table = Table(title=f"{candidate.summary()} on {target.name} ({activity})")
    columns, rows = layer_table(candidate, report)
    for col in columns:
        table.add_column(col, justify="left" if col in ("layer", "shape") else "right")
    for row in rows[:-1]:
        table.add_row(*row)
    table.add_row(*rows[-1], end_section=True)
    console.print(table)
    bound = ">= " if report.lower_bound else ""
    console.print(f"candidate {source}; target {target.name} ({target.kind}, {target.clock_hz / 1e6:g} MHz): {target.description}")
    console.print(
        f"latency {bound}{_si(report.latency_s, 's')} ({report.latency_cycles:,} cycles, layers one after another); "
        f"throughput {bound.replace('>=', '<=')}{report.throughput_inferences_per_s:,.0f} inferences/s "
        f"(layer pipeline: one inference per {report.pipeline_interval_cycles:,} cycles of {report.bottleneck_layer})"
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
    if compat is not None:
        console.print(
            f"SpikingJelly estimate_simple_energy equivalent (fp32, 45 nm regime): {_si(compat.energy_mj * 1e-3, 'J')} "
            f"(MAC {compat.mac:,.0f}, AC {compat.ac:,.0f}, SynOps {compat.synop:,.0f}, {compat.memory_access_bytes:,.0f} B)"
        )
