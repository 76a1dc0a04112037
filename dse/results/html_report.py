"""One self-contained HTML report of a study: settings, target, budgets, front, plots, per-layer costs.

Self-contained: images are inlined (base64 PNG or inline SVG), the style sheet is inline and
nothing refers to an external URL, so the file can be mailed or archived as it is. Every
string that comes from the study is escaped with html.escape.
"""

from __future__ import annotations

import base64
import datetime as dt
from html import escape
from typing import Any

import optuna

from dse.results.plots import AXES, StudyView, figure_bytes, figures, hypervolume_units, reference_label
from dse.results.cost_table import is_calibrated
from dse.results.front import TABLE_COLUMNS, format_row, trial_row

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f0f3f7; } td.l, th.l { text-align: left; }
tr.total td { font-weight: bold; border-top: 2px solid #888; }
figure { margin: 1em 0; } figure img, figure svg { max-width: 100%; height: auto; }
.note { color: #555; font-size: 0.9em; }
"""


def _table(columns: list[str], rows: list[list[str]], left: tuple[str, ...] = (), total_last: bool = False) -> str:
    head = "".join(f'<th{" class=l" if c in left else ""}>{escape(c)}</th>' for c in columns)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="total"' if total_last and i == len(rows) - 1 else ""
        cells = "".join(f'<td{" class=l" if c in left else ""}>{escape(str(v))}</td>' for c, v in zip(columns, row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pairs(items: list[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th class=l>{escape(k)}</th><td class=l>{escape(str(v))}</td></tr>" for k, v in items)
    return f"<table>{rows}</table>"


def _budget_text(quantity: str, value: float) -> str:
    axis = AXES.get(quantity)
    if quantity == "memory":
        return f"{value:g} B ({value / 1024:.4g} KiB)"
    unit = axis.base_unit if axis is not None else ""
    return f"{value:g}{' ' + unit if unit else ''}"


def settings_section(view: StudyView, storage_url: str, study: optuna.Study) -> str:
    dse_attrs = study.user_attrs.get("dse", {})
    objectives = ", ".join(f"{o} ({d})" for o, d in zip(view.objectives, view.directions))
    counts = ", ".join(f"{n} {k}" for k, n in sorted(view.counts.items()))
    budgets = ", ".join(f"{k} {_budget_text(k, v)}" for k, v in view.budgets.items()) or "none"
    items = [
        ("study", view.name), ("storage", storage_url), ("data set", dse_attrs.get("dataset", "?")),
        ("search space", dse_attrs.get("space", "?")), ("objectives", objectives), ("budgets", budgets),
        ("trials", f"{len(study.trials)} ({counts})"), ("front size", len(view.front)),
        ("hypervolume", f"{view.hypervolume_history[-1][1]:.6g} ({hypervolume_units(view)})" if view.hypervolume_history else "0 (no feasible trained trial)"),
        ("hypervolume reference", reference_label(view)),
    ]
    return "<h2>Settings</h2>" + _pairs(items)


def target_section(view: StudyView) -> str:
    t = view.target
    if t is None:
        return f"<h2>Target</h2><p>{escape(str(view.target_name))} (its file no longer loads: capacities unknown)</p>"
    items = [("name", t.name), ("kind", t.kind), ("description", t.description), ("clock", f"{t.clock_hz / 1e6:g} MHz"),
             ("static power", f"{t.static_power_w:g} W")]
    items += [(f"capacity {k}", f"{v:,}") for k, v in t.capacities.items()]
    if is_calibrated(t):
        points = (t.calibration or {}).get("points")
        items.append(("template constants", "calibrated (dse calibrate" + (f", {points} synthesized designs" if points
                                                                          else "") + "): LUT and FF below show the "
                      "calibrated and the default constants side by side (LUT dflt, FF dflt)"))
    return "<h2>Target</h2>" + _pairs(items)


def front_section(view: StudyView) -> str:
    if not view.front:
        return "<h2>Pareto front</h2><p>No feasible trained trial: the front is empty.</p>"
    rows = [format_row(trial_row(t)) for t in view.front]
    return ("<h2>Pareto front</h2><p class=note>Feasible, non-dominated trials of the study's objectives, "
            "best accuracy first (same columns as <code>dse pareto</code>).</p>"
            + _table(list(TABLE_COLUMNS), rows, left=("quantizer", "architecture")))


def reference_section(view: StudyView) -> str:
    """The fp reference trials (dse search --reference-fp) that no feasible trial dominates: not deployable,
    listed apart from the front; nothing when the study has none."""
    if not view.reference:
        return ""
    rows = [format_row(trial_row(t)) for t in view.reference]
    return ("<h2>Full-precision reference (not deployable)</h2><p class=note>Trials with fp weights or membranes, "
            "searched with <code>--reference-fp</code> for comparison: hardware cannot build them, so they are kept "
            "off the front above; these are the ones no feasible trial dominates.</p>"
            + _table(list(TABLE_COLUMNS), rows, left=("quantizer", "architecture")))


def _inline_image(fig: Any, image_format: str, caption: str) -> str:
    data = figure_bytes(fig, image_format)
    if image_format == "svg":
        text = data.decode("utf-8")
        body = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: inline SVG needs neither
    else:
        body = f'<img alt="{escape(caption)}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'
    return f"<figure>{body}<figcaption class=note>{escape(caption)}</figcaption></figure>"


def plots_section(view: StudyView, image_format: str) -> str:
    parts = ["<h2>Plots</h2>"]
    for stem, fig in figures(view).items():
        parts.append(_inline_image(fig, image_format, stem))
        fig.clear()
    return "".join(parts)


def layer_section(view: StudyView) -> str:
    """Per-layer cost table (the `dse estimate` table) of each front member, from its stored report."""
    from cost_models.report import CostReport
    from dse.results.cost_table import default_constant_resources, layer_table
    from search_spaces.candidate import Candidate

    if not view.front:
        return ""
    parts = ["<h2>Per-layer costs of the front members</h2><p class=note>From each trial's stored cost report "
             "(measured validation activity). W: weight bits, M/acc: membrane bits or readout accumulator, "
             "P: neuron units in parallel.</p>"]
    for trial in view.front:
        candidate = Candidate.from_dict(trial.user_attrs["candidate"])
        report = CostReport.from_dict(trial.user_attrs["cost"])
        columns, rows = layer_table(candidate, report, default_constant_resources(candidate, view.target)
                                    if report.target_kind == "fpga" else None)
        rates = trial.user_attrs.get("firing_rates") or {}
        rate_text = ", ".join(f"{k} {v:.3g}" for k, v in rates.items()) or "-"
        parts.append(
            f"<h3 id=trial-{trial.number}>trial {trial.number}: {escape(candidate.summary())}</h3>"
            + _table(columns, rows, left=("layer", "shape"), total_last=True)
            + f"<p class=note>accuracy {trial.user_attrs.get('accuracy', float('nan')):.4f}; energy split: compute "
            f"{report.compute_energy_mj:.4g} mJ, memory {report.memory_energy_mj:.4g} mJ, static {report.static_energy_mj:.4g} mJ; "
            f"latency {report.latency_s * 1e3:.4g} ms; throughput {report.throughput_inferences_per_s:,.0f} inferences/s "
            f"(bottleneck {escape(report.bottleneck_layer)}); firing rates {escape(rate_text)}</p>"
        )
    return "".join(parts)


NEUROBENCH_COLUMNS = (
    "trial", "samples", "Footprint (B)", "ConnectionSparsity", "ActivationSparsity", "Effective_ACs", "Effective_MACs",
    "Dense", "dse memory (bits)", "dse ACs (dense)", "dse effective ACs", "dse MACs",
)
NEUROBENCH_DIFFERENCES = (  # the report's footnote; docs/cost-models.md#neurobench has the full list
    "Footprint: bytes of the exported model's float32 parameters and buffers (4 B per weight, zero or not); dse memory: "
    "the bit-true storage (weight bits, membrane registers, readout accumulators, fp16 per-channel scales). "
    "Effective_ACs: input events x nonzero weights in every layer whose input in a forward call is binary; equal to the "
    "dse effective ACs, except after average pooling (fractional inputs: NeuroBench books that layer under "
    "Effective_MACs) and for tawq (NeuroBench uses each timestep's own weights, dse their mean). Effective_MACs: nonzero "
    "inputs x nonzero weights of layers with non-binary input (the static layer 0); dse MACs count every weight use of "
    "layer 0, zeros included. Dense: every weight at every timestep as if every input were nonzero, all layers; dse ACs: "
    "events x every weight they reach. ActivationSparsity: share of zero neuron outputs over layers, timesteps and "
    "samples. ConnectionSparsity: share of zero weights (NeuroBench rounds it to 4 decimals)."
)


def neurobench_section(study: optuna.Study, view: StudyView, records: dict[int, Any] | None = None) -> str:
    """NeuroBench's figures of each front member next to the project's counts on the same samples
    (dse/results/neurobench_metrics.py); `records` None: those stored in the study."""
    from dse.results.neurobench_metrics import DOCS, MISSING_NOTE, neurobench_version, stored_records

    if not view.front:
        return ""
    if records is None:
        records = stored_records(study, (t.number for t in view.front))
    rows, reasons, missing, meta = [], [], [], None
    for trial in view.front:
        record = records.get(trial.number)
        if isinstance(record, str):  # why it could not be measured
            reasons.append(f"trial {trial.number}: {record}")
            continue
        if not isinstance(record, dict):
            missing.append(str(trial.number))
            continue
        nb, ops, own = record["neurobench"], record["neurobench"]["SynapticOperations"], record["dse"]
        meta = meta or record
        rows.append([trial.number, record["samples"], nb["Footprint"], f"{nb['ConnectionSparsity']:.4f}",
                     f"{nb['ActivationSparsity']:.4f}", f"{ops['Effective_ACs']:.6g}", f"{ops['Effective_MACs']:.6g}",
                     f"{ops['Dense']:.6g}", own["memory_bits"], f"{own['acs']:.6g}", f"{own['effective_acs']:.6g}", own["macs"]])
    parts = ["<h2>NeuroBench metrics of the front members</h2>"]
    if meta is not None:
        parts.append(
            f"<p class=note>Computed by the neurobench package {escape(str(meta.get('neurobench_version')))} on each "
            f"member's standard-layer export (plain Linear/Conv2d with its quantized weights), per sample over the "
            f"{escape(str(meta['split']))} split; the dse columns are the project's counts on the same weights and samples "
            f"(the cost tables above were measured on the validation split).</p>"
            + _table(list(NEUROBENCH_COLUMNS), rows)
            + f"<p class=note>Definitions differ. {escape(NEUROBENCH_DIFFERENCES)} Full list: {escape(DOCS)}.</p>"
        )
    if reasons:
        parts.append("<p class=note>Not measured: " + escape("; ".join(reasons)) + "</p>")
    if missing:
        why = MISSING_NOTE if neurobench_version() is None else "not measured"
        parts.append(f"<p class=note>Trial(s) {escape(', '.join(missing))}: {escape(why)}.</p>")
    return "".join(parts)


def report_html(
    study: optuna.Study, view: StudyView, storage_url: str, image_format: str = "png",
    neurobench_records: dict[int, Any] | None = None,
) -> str:
    """The whole report as one HTML document; `neurobench_records` by trial (neurobench_metrics.front_records),
    None: the records stored in the study."""
    created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = f"dse report: study {view.name}"
    return (
        f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1><p class=note>written {created}</p>"
        + settings_section(view, storage_url, study) + target_section(view) + front_section(view) + reference_section(view)
        + plots_section(view, image_format) + layer_section(view) + neurobench_section(study, view, neurobench_records)
        + "</body></html>\n"
    )
