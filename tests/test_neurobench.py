"""NeuroBench's figures (the `neurobench` package, extra 'neurobench') against the project's counts.

The project's effective ACs (cost_models evaluate(), docs/cost-models.md#effective-acs) equal NeuroBench's
Effective_ACs on the same network and input wherever every layer input NeuroBench sees is binary: an MLP
with ternary weights (zeros that matter), one with binary weights (no zeros: effective = dense), a conv
net with max pooling and an event-input MLP (layer 0 reads events: accumulate-only in both). The documented
differences (docs/cost-models.md#neurobench) are checked too: Footprint is float32 bytes (a hand count),
Dense is every weight at every timestep (a hand count), average pooling moves a layer into NeuroBench's
Effective_MACs, and a type with per-timestep weights (tawq) is counted per step by NeuroBench.
"""

import json
import shutil

import numpy as np
import optuna
import pytest
import torch
from spikingjelly.activation_based import functional

from cost_models.report import evaluate
from dse.export.standard_layers import PerTimestepLayer, standard_layer_model
from dse.results import neurobench_metrics
from dse.results.neurobench_metrics import dse_counts, member_record, neurobench_figures
from dse.errors import UserError
from dse.training.data import Split, load_dataset
from dse.training.model import build_model
from dse.training.train import measure
from search_spaces.candidate import Candidate
from _services import missing

SAMPLES = 120


@pytest.fixture(autouse=True)
def _neurobench_installed():
    """CI installs the extra (dev): without it these tests skip, or fail under DSE_REQUIRE_SERVICES=1."""
    if neurobench_metrics.neurobench_version() is None:
        missing(f"neurobench is not installed: {neurobench_metrics.INSTALL_HINT}")


def _mlp(widths, bits, quantizer="ternary", timesteps=3, **kw):
    return Candidate(family="mlp", widths=widths, weight_bits=bits, membrane_bits=(6,) * len(widths), timesteps=timesteps,
                     quantizer=quantizer, parallelism=(4,) * (len(widths) + 1), **kw)


def _conv(pooling, timesteps=2):
    return Candidate(family="conv", widths=(4, 8), weight_bits=(2, 2, 2), membrane_bits=(6, 6), timesteps=timesteps,
                     quantizer="ternary", pooling=pooling, parallelism=(2, 2, 2))


def _model(candidate, gain=3.0):
    """An untrained model whose weights are scaled up so that every layer fires (seeded)."""
    torch.manual_seed(0)
    model = build_model(candidate)
    with torch.no_grad():
        for lay in model.weight_layers:
            lay.weight.mul_(gain)
    return model.eval()


@pytest.fixture(scope="module")
def digits_test(digits):
    return Split(digits.test.x[:SAMPLES], digits.test.y[:SAMPLES])


def _events(n=SAMPLES, frames=4, shape=(2, 8, 8), rate=0.3):
    generator = torch.Generator().manual_seed(1)
    x = (torch.rand((n, frames, *shape), generator=generator) < rate).to(torch.uint8)
    return Split(x, torch.zeros(n, dtype=torch.long))


def _project(model, split):
    """The project's cost report and activity of `model` on `split` (what a trial's cost report holds)."""
    _, activity, rates, _ = measure(model, split, 64)
    return evaluate(model.candidate, "fpga-small", activity), activity, rates


@pytest.mark.parametrize("candidate, zeros", [
    (_mlp((32, 16), (2, 2, 2)), True),                       # ternary: zero weights that events skip
    (_mlp((32,), (1, 1), quantizer="uniform"), False),       # binary +-1: no zero, effective = dense
    (_conv(("max", "none")), True),                          # conv, padding edges, max pooling
    (_mlp((32,), (2, 2), input_shape=(2, 8, 8), input_kind="events"), True),  # layer 0 reads events
])
def test_project_effective_acs_equal_neurobench_effective_acs(candidate, zeros, digits_test):
    model = _model(candidate)
    split = _events() if candidate.input_kind == "events" else digits_test
    report, _, _ = _project(model, split)
    figures = neurobench_figures(model, split, batch_size=64)
    ops = figures["SynapticOperations"]
    assert report.acs > 0
    assert ops["Effective_ACs"] == pytest.approx(report.effective_acs, rel=1e-12)
    if zeros:
        assert figures["ConnectionSparsity"] > 0.05 and report.effective_acs < 0.97 * report.acs
    else:
        assert figures["ConnectionSparsity"] == 0.0 and report.effective_acs == pytest.approx(report.acs, rel=1e-12)
    if candidate.input_kind == "events":
        assert ops["Effective_MACs"] == 0  # binary frames: layer 0 accumulates in both tools
        assert report.macs == 0
    else:
        assert 0 < ops["Effective_MACs"] <= report.macs  # layer 0: nonzero pixels x nonzero weights <= every weight use


def test_the_standard_layer_export_computes_what_the_trained_model_computes(digits_test):
    for candidate, split in [
        (_mlp((32, 16), (2, 2, 2)), digits_test), (_conv(("avg", "max")), digits_test),
        (_mlp((16,), (2, 2), quantizer="tawq"), digits_test),
        (_mlp((16,), (2, 2), input_shape=(2, 8, 8), input_kind="events"), _events(n=16)),
    ]:
        model = _model(candidate)
        net = standard_layer_model(model)
        with torch.no_grad():
            expected = model(split.x)
            functional.reset_net(model)
            assert torch.equal(net(split.x), expected)
            assert torch.equal(net(split.x), expected)  # every forward starts from reset neurons
        plain = [m for m in net.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
        assert all(m.bias is None for m in plain)
        if candidate.quantizer == "tawq":  # one plain layer per timestep and weight layer
            assert len(plain) == candidate.timesteps * 2 and any(isinstance(m, PerTimestepLayer) for m in net.modules())
        else:
            assert len(plain) == len(model.weight_layers)


def test_footprint_dense_and_sparsities_against_hand_counts(digits_test):
    candidate = _mlp((32, 16), (2, 2, 2))  # 64-32-16-10, T = 3
    model = _model(candidate)
    figures = neurobench_figures(model, digits_test, batch_size=50)  # 120 samples: a short last batch
    weights = 64 * 32 + 32 * 16 + 16 * 10
    assert figures["Footprint"] == 4 * weights  # float32 bytes, zeros included; FixedPointLIFNode holds no buffer
    assert figures["SynapticOperations"]["Dense"] == 3 * weights  # every weight at every timestep, layer 0 too
    zero = sum(int((lay.quantized_weight() == 0).sum()) for lay in model.weight_layers)
    assert figures["ConnectionSparsity"] == round(zero / weights, 4)
    _, _, rates = _project(model, digits_test)  # firing rate = spikes / (neurons x T), per layer
    spiking = {"layer0": 32, "layer1": 16}
    mean_rate = sum(rates[k] * n for k, n in spiking.items()) / sum(spiking.values())
    assert figures["ActivationSparsity"] == pytest.approx(1.0 - mean_rate, rel=1e-12)
    # the project's bit-true memory, by hand: 2-bit weights, 6-bit membranes, the readout's 2+4+2+1-bit accumulators,
    # one fp16 scale per output channel
    record = member_record(model, digits_test)
    assert record["dse"]["memory_bits"] == 2 * weights + 6 * (32 + 16) + 9 * 10 + 16 * (32 + 16 + 10)
    assert record["samples"] == SAMPLES and record["counts_exact"] is True
    json.dumps(record)  # JSON-safe


def test_footprint_counts_neuron_buffers_too(digits_test):
    """qsnn's neurons keep their membrane scale as buffers: a float32 alpha and a bool flag per layer."""
    model = _model(_mlp((32, 16), (8, 1, 8), quantizer="qsnn"))
    figures = neurobench_figures(model, digits_test, batch_size=64)
    assert figures["Footprint"] == 4 * (64 * 32 + 32 * 16 + 16 * 10) + 2 * (4 + 1)


def test_dse_counts_are_evaluates_counts(digits_test):
    model = _model(_conv(("max", "none")))
    report, activity, _ = _project(model, digits_test)
    counts = dse_counts(model.candidate, activity)
    assert counts == {"memory_bits": round(report.memory_bytes * 8), "acs": pytest.approx(report.acs, rel=1e-12),
                      "effective_acs": pytest.approx(report.effective_acs, rel=1e-12), "macs": report.macs}


def test_after_average_pooling_neurobench_books_the_layer_as_macs(digits_test):
    """Documented difference: pooled spikes are fractions, so NeuroBench counts the next layer's ops as MACs."""
    model = _model(_conv(("avg", "none")))
    report, activity, _ = _project(model, digits_test)
    ops = neurobench_figures(model, digits_test, batch_size=64)["SynapticOperations"]
    layer = {l.name: l for l in report.layers}
    assert layer["layer1"].effective_acs > 0
    assert ops["Effective_ACs"] == pytest.approx(report.effective_acs - layer["layer1"].effective_acs, rel=1e-12)
    # Effective_MACs: layer 0's nonzero pixels x nonzero weights plus the pooled layer's events x nonzero weights
    layer0 = activity.layers["layer0"]
    pixels_x_weights = float((np.asarray(layer0.input_events) * layer0.nonzero_fanout).sum())
    assert ops["Effective_MACs"] == pytest.approx(pixels_x_weights + layer["layer1"].effective_acs, rel=1e-12)


def test_tawq_is_counted_per_timestep_by_neurobench(digits_test):
    """Documented difference: one ternary set per timestep; NeuroBench stores and counts each set."""
    candidate = _mlp((16,), (2, 2), quantizer="tawq")
    model = _model(candidate)
    figures = neurobench_figures(model, digits_test, batch_size=64)
    weights = 64 * 16 + 16 * 10
    assert figures["Footprint"] == 4 * 3 * weights  # T = 3 float32 sets
    assert figures["SynapticOperations"]["Dense"] == 3 * weights
    # per step: events at step t x nonzero weights of set t, counted by hand with hooks on the trained model
    spikes = []
    hook = model.neurons[0].register_forward_hook(lambda _m, _i, out: spikes.append(out.detach()))
    with torch.no_grad():
        model(digits_test.x)
    hook.remove()
    functional.reset_net(model)
    sets = model.weight_layers[1].quantized_weight()  # [T, 10, 16]
    per_step = sum(float((spikes[0][t] @ (sets[t] != 0).float().T).sum()) for t in range(3)) / SAMPLES
    assert figures["SynapticOperations"]["Effective_ACs"] == pytest.approx(per_step, rel=1e-12)


# ---------------------------------------------------------------- a study: pareto.json and the report


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A two-trial search of a tiny uniform MLP space (no verification), its output folder and storage URL."""
    folder = tmp_path_factory.mktemp("nb")
    (folder / "space.yaml").write_text(
        "families:\n  mlp: {depth: [1], widths: [16, 32]}\nweight_bits: [2, 4]\nmembrane_bits: [6]\n"
        "timesteps: [1, 2]\nparallelism: [4]\nquantizers:\n  uniform: {scale: [mean]}\n")
    (folder / "study.yaml").write_text(
        f"name: nb\ndataset: digits\nspace: {folder / 'space.yaml'}\ntarget: fpga-small\nobjectives: [accuracy, energy]\n"
        "budgets: [0.6mJ]\ntrials: 2\nfidelity: {epochs: 1, batch_size: 64, lr: 0.01}\nsampler: random\nseed: 0\n")
    out = folder / "out"
    from dse.cli import main

    assert main(["search", "--study-config", str(folder / "study.yaml"), "--out", str(out), "--quiet", "--verify", "0"]) == 0
    return out, f"sqlite:///{out / 'study.db'}"


def test_pareto_json_and_the_report_carry_the_neurobench_figures(searched, tmp_path):
    from dse.cli import main

    out, url = searched
    doc = json.loads((out / "pareto.json").read_text())
    assert doc["front"] and "neurobench" in doc["neurobench_note"]
    for member in doc["front"]:
        record = member["neurobench"]
        nb, own = record["neurobench"], record["dse"]
        assert record["split"] == "test" and record["samples"] == 360 and record["neurobench_version"]
        assert set(nb) == {"Footprint", "ConnectionSparsity", "ActivationSparsity", "SynapticOperations"}
        widths = member["candidate"]["widths"]
        weights = 64 * widths[0] + widths[0] * 10
        assert nb["Footprint"] == 4 * weights
        assert nb["SynapticOperations"]["Effective_ACs"] == pytest.approx(own["effective_acs"], rel=1e-12)
        assert nb["SynapticOperations"]["Dense"] == member["candidate"]["timesteps"] * weights
        assert own["memory_bits"] == round(member["cost"]["memory_bytes"] * 8)
    assert main(["report", "--storage", url, "--study", "nb", "--out", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text()
    section = html[html.index("NeuroBench metrics of the front members"):]
    assert "Effective_ACs" in section and "float32" in section and "docs/cost-models.md#neurobench" in section
    for member in doc["front"]:
        ops = member["neurobench"]["neurobench"]["SynapticOperations"]
        assert f"<td>{member['trial']}</td>" in section and f"<td>{ops['Effective_ACs']:.6g}</td>" in section
        assert f"<td>{member['neurobench']['neurobench']['Footprint']}</td>" in section


def test_without_the_extra_the_report_names_it_and_a_member_without_weights_gets_its_reason(searched, tmp_path, monkeypatch):
    from dse.cli import main

    out, _ = searched
    shutil.copy(out / "study.db", tmp_path / "study.db")  # the shared study keeps its records
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.load_study(study_name="nb", storage=url)
    members = [t for t in study.trials if t.number in {m["trial"] for m in json.loads((out / "pareto.json").read_text())["front"]}]
    for key in [k for k in study.user_attrs if k.startswith(neurobench_metrics.RECORD_PREFIX)]:
        study.set_user_attr(key, None)  # Optuna cannot delete a user attribute; a record that is not a dict is none
    assert neurobench_metrics.stored_records(study) == {}

    def no_weights(trial):
        raise UserError(f"trial {trial.number} of study 'nb' has no stored model")

    records = neurobench_metrics.front_records(study, members, load_dataset("digits", seed=0), no_weights, store=True)
    assert all("has no stored model" in records[t.number] for t in members)
    assert neurobench_metrics.stored_records(study) == {}  # reasons are not stored

    monkeypatch.setattr(neurobench_metrics, "neurobench_version", lambda: None)
    assert neurobench_metrics.record_front(study, members, None, no_weights) == neurobench_metrics.MISSING_NOTE
    assert main(["report", "--storage", url, "--study", "nb", "--out", str(tmp_path / "report")]) == 0
    html = (tmp_path / "report" / "report.html").read_text()
    section = html[html.index("NeuroBench metrics of the front members"):]
    assert "optional extra &#x27;neurobench&#x27;: pip install -e &quot;.[neurobench]&quot;" in section
    assert "<td>" not in section
