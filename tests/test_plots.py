"""dse plot and dse report on a real stored study, the hypervolume against hand counts, bad input.

The study is made by the real TrialRunner (screening, cost model, constraints, user attrs) over
six fixed candidates; only training is replaced by a fake that returns a chosen accuracy and a
uniform firing rate of 0.5, so the layout is known: trials 0 and 1 form the front, 2 is
dominated, 3 is trained but over the energy budget, 4 is screened (over the memory budget), 5
diverges (failed).
"""

import argparse
import base64
import re
import xml.etree.ElementTree as ET

import optuna
import pytest

import dse.search.runner as search_module
from cost_models.activity import activity_from_rate
from cost_models.targets import load_target
from dse.cli import plot as plot_command
from dse.results import plots
from dse.cli import report as report_command
from dse.training.data import load_dataset
from dse.errors import TrainingDiverged, UserError
from dse.results.hypervolume import hypervolume, reference_point
from dse.search.study import SearchSettings, open_study
from dse.search.runner import TrialRunner
from dse.training.train import Fidelity, TrainResult
from search_spaces.candidate import Candidate

STUDY = "tiny <&> study"  # markup characters: the report must escape them
ENERGY_BUDGET_MJ, MEMORY_BUDGET_B = 0.004, 32768.0  # trial 3: lower bound 0.0037 mJ, trained 0.0043 mJ
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _mlp(widths, wbits, mbits, timesteps):
    return Candidate(family="mlp", widths=widths, weight_bits=wbits, membrane_bits=mbits, timesteps=timesteps,
                     parallelism=[4] * (len(widths) + 1))


CANDIDATES = [  # (candidate, accuracy the fake training reports; None: training diverges)
    (_mlp([16], [2, 4], [6], 1), 0.80),
    (_mlp([32], [4, 4], [6], 2), 0.90),
    (_mlp([32], [8, 8], [8], 2), 0.85),
    (_mlp([32, 16], [None, None, None], [None, None], 4), 0.95),
    (_mlp([256], [None, None], [None], 2), 0.99),
    (_mlp([16], [4, 4], [6], 1), None),
]


class FixedSpace:
    """Proposes CANDIDATES in order, in place of a SearchSpace."""

    name = "fixed"

    def __init__(self):
        self.index = 0

    def suggest(self, trial, *args, **kwargs):
        self.index += 1
        return CANDIDATES[self.index - 1][0]

    def digest(self) -> str:
        return "fixed-candidates"


def fake_training(candidate, *args, **kwargs):
    accuracy = dict((c.summary(), a) for c, a in CANDIDATES)[candidate.summary()]
    if accuracy is None:
        raise TrainingDiverged("non-finite loss at epoch 1")
    return TrainResult(accuracy, activity_from_rate(candidate, 0.5), {"layer0": 0.5}, 1, 0.0)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """(storage URL, study) of the six-trial study in a real SQLite storage."""
    folder = tmp_path_factory.mktemp("study")
    url = f"sqlite:///{folder / 'study.db'}"
    settings = SearchSettings(
        study_name=STUDY, storage_url=url, space=FixedSpace(), target=load_target("fpga-small"),
        budgets={"energy": ENERGY_BUDGET_MJ, "memory": MEMORY_BUDGET_B}, objectives=("accuracy", "energy"),
        trials=len(CANDIDATES), timeout_s=None, fidelity=Fidelity(epochs=1), sampler="random", seed=0, dataset="digits",
    )
    study = open_study(settings)
    patch = pytest.MonkeyPatch()
    patch.setattr(search_module, "train_candidate", fake_training)
    try:
        study.optimize(TrialRunner(settings, load_dataset("digits", seed=0), "cpu"), n_trials=len(CANDIDATES), catch=(Exception,))
    finally:
        patch.undo()
    return url, optuna.load_study(study_name=STUDY, storage=url)


def _args(*argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    plot_command.add_parser(sub)
    report_command.add_parser(sub)
    return parser.parse_args(list(argv))


@pytest.fixture(scope="module")
def plotted(stored, tmp_path_factory):
    url, _ = stored
    out = tmp_path_factory.mktemp("plots")
    assert plot_command.run(_args("plot", "--storage", url, "--study", STUDY, "--out", str(out))) == 0
    return out


@pytest.fixture(scope="module")
def report_text(stored, tmp_path_factory):
    url, _ = stored
    out = tmp_path_factory.mktemp("report")
    assert report_command.run(_args("report", "--storage", url, "--study", STUDY, "--out", str(out))) == 0
    return (out / "report.html").read_text()


# ---------------------------------------------------------------- hypervolume


def test_hypervolume_of_a_hand_counted_two_objective_set():
    # maximise accuracy, minimise energy, reference (0, 1): union of [0,0.9]x[0.5,1] and [0,0.6]x[0.2,1]
    points = [[0.9, 0.5], [0.6, 0.2], [0.5, 0.8]]  # the third is dominated by the first
    assert hypervolume(points, ["maximize", "minimize"], [0.0, 1.0]) == pytest.approx(0.9 * 0.5 + 0.6 * 0.3)
    # a point beyond the reference on one objective adds nothing
    assert hypervolume([[0.9, 1.5]], ["maximize", "minimize"], [0.0, 1.0]) == 0.0
    assert hypervolume([], ["maximize", "minimize"], [0.0, 1.0]) == 0.0
    # both minimised: [1,3]x[2,3] u [2,3]x[1,3] = 2 + 2 - 1
    assert hypervolume([[1, 2], [2, 1]], ["minimize", "minimize"], [3, 3]) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        hypervolume(points, ["maximize", "up"], [0.0, 1.0])


def test_reference_point_rule():
    ref = reference_point(["accuracy", "energy", "memory"], ["maximize", "minimize", "minimize"],
                          {"energy": 0.6}, [[0.9, 0.1, 1000.0], [0.8, 0.2, 2000.0]])
    assert ref == pytest.approx([0.0, 0.6, 2200.0])  # accuracy 0, the budget, 1.1 x the worst feasible
    assert reference_point(["accuracy", "lut"], ["maximize", "minimize"], {}, []) == [0.0, 1.0]


def test_study_hypervolume_history_matches_hand_count(stored):
    _, study = stored
    view = plots.study_view(study)
    assert view.hypervolume_reference == pytest.approx([0.0, ENERGY_BUDGET_MJ])
    energy = {t.number: t.values[1] for t in study.trials if t.values}
    assert [n for n, _ in view.hypervolume_history] == [0, 1, 2]  # feasible trained trials only
    first = 0.80 * (ENERGY_BUDGET_MJ - energy[0])
    full = first + (0.90 - 0.80) * (ENERGY_BUDGET_MJ - energy[1])  # trial 2 is dominated: adds nothing
    assert [v for _, v in view.hypervolume_history] == pytest.approx([first, full, full])


# ---------------------------------------------------------------- study view and plots


def test_study_view_counts_and_front(stored):
    _, study = stored
    view = plots.study_view(study)
    assert view.counts == {"trained": 4, "screened": 1, "failed": 1}
    assert [t.number for t in view.front] == [1, 0]  # best accuracy first
    by_number = {p.number: p for p in view.points}
    assert by_number[3].status == "trained" and not by_number[3].feasible
    assert by_number[4].status == "screened" and by_number[4].accuracy == 0.0
    assert by_number[2].feasible and not by_number[2].on_front
    assert view.capacity_shown("lut") == load_target("fpga-small").capacities["lut"]
    assert view.budget_shown("memory") == MEMORY_BUDGET_B / 1024


def test_bit_width_table_holds_the_front_members_bits(stored):
    _, study = stored
    rows, wcols, weights, mcols, membranes = plots.bit_width_table(plots.study_view(study))
    assert rows == ["#1 acc 0.900", "#0 acc 0.800"]
    assert wcols == ["hidden 1", "readout"] and mcols == ["hidden 1"]
    assert weights.tolist() == [[4, 4], [2, 4]]
    assert membranes.tolist() == [[6], [6]]


def test_plot_writes_valid_png_and_svg_of_every_view(plotted):
    stems = ["pareto-accuracy-energy", "pareto-accuracy-memory", "pareto-accuracy-lut", "pareto-accuracy-bram",
             "pareto-3-objectives", "hypervolume", "bit-widths"]
    for stem in stems:
        png = (plotted / f"{stem}.png").read_bytes()
        assert png.startswith(PNG_MAGIC) and len(png) > 5000
        root = ET.parse(plotted / f"{stem}.svg").getroot()
        assert root.tag.endswith("svg")
    svg = (plotted / "pareto-accuracy-energy.svg").read_text()
    for label in ("#0", "#1", "budget 0.004 mJ"):  # front labels and the budget line's legend
        assert label in svg
    assert "#2" not in svg and "#3" not in svg  # only front members are labelled
    # LUTs of 1.4k-3.9k against a capacity of 53,200: named at the axis end, not drawn to scale
    assert "fpga-small capacity 53,200: beyond the axis" in (plotted / "pareto-accuracy-lut.svg").read_text()
    assert (plotted / "pareto-interactive.html").exists() == plots.plotly_available()
    assert not list(plotted.glob(".dse-plot-*"))  # the staging folder is gone


def test_plot_renders_a_study_without_trials(tmp_path):
    study = optuna.create_study(directions=["maximize", "minimize"], storage=f"sqlite:///{tmp_path / 'e.db'}", study_name="empty")
    study.set_user_attr("dse", {"objectives": ["accuracy", "energy"]})
    view = plots.study_view(study)
    written = plots.write_plots(study, view, tmp_path / "out", ("png",))
    assert [p.name for p in written][:1] == ["pareto-accuracy-energy.png"]
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in written if p.suffix == ".png")


def test_a_failure_while_rendering_leaves_no_output(stored, tmp_path, monkeypatch):
    url, _ = stored
    calls = {"n": 0}
    real = plots.figure_bytes

    def fail_on_third(fig, fmt):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(fig, fmt)

    monkeypatch.setattr(plots, "figure_bytes", fail_on_third)
    out = tmp_path / "plots"
    with pytest.raises(RuntimeError):
        plot_command.run(_args("plot", "--storage", url, "--study", STUDY, "--out", str(out), "--formats", "png"))
    assert not out.exists()


# ---------------------------------------------------------------- report


def test_report_is_self_contained_with_front_and_per_layer_tables(report_text):
    html = report_text
    assert html.startswith("<!DOCTYPE html>")
    assert "tiny &lt;&amp;&gt; study" in html and STUDY not in html  # escaped
    for heading in ('<h3 id=trial-0>', '<h3 id=trial-1>'):
        assert heading in html
    assert "<h3 id=trial-2>" not in html and "<h3 id=trial-3>" not in html  # front members only
    assert html.count("<td class=l>layer1 (readout)</td>") == 2  # one per-layer table per front member
    assert html.count('<tr class="total">') == 2
    front_table = html[html.index("<h2>Pareto front</h2>"):html.index("<h2>Plots</h2>")]
    assert re.findall(r"<tr><td>(\d+)</td>", front_table) == ["1", "0"]
    assert "1 failed, 1 screened, 4 trained" in html and "fpga-small" in html and "53,200" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 7 and all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)  # nothing external


def test_report_with_inline_svg(stored, tmp_path):
    url, _ = stored
    report_command.run(_args("report", "--storage", url, "--study", STUDY, "--out", str(tmp_path), "--image-format", "svg"))
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 7 and "<img" not in html  # heatmaps keep their raster inside the SVG


# ---------------------------------------------------------------- bad input


def test_unknown_storage_file_is_refused_and_not_created(tmp_path):
    db = tmp_path / "missing.db"
    with pytest.raises(UserError, match="no storage file"):
        plot_command.run(_args("plot", "--storage", f"sqlite:///{db}", "--study", "x", "--out", str(tmp_path / "o")))
    assert not db.exists() and not (tmp_path / "o").exists()
    with pytest.raises(UserError, match="cannot open storage"):
        report_command.run(_args("report", "--storage", "nosuchdb://x", "--study", "x", "--out", str(tmp_path / "o")))


def test_unknown_study_is_refused_naming_the_known_ones(stored, tmp_path):
    url, _ = stored
    with pytest.raises(UserError, match=r"no study 'other'.*studies there: 'tiny <&> study'"):
        report_command.run(_args("report", "--storage", url, "--study", "other", "--out", str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()


def test_existing_output_is_refused_unless_forced(stored, tmp_path):
    url, _ = stored
    (tmp_path / "report.html").write_text("mine")
    (tmp_path / "hypervolume.png").write_text("mine")
    report = _args("report", "--storage", url, "--study", STUDY, "--out", str(tmp_path))
    with pytest.raises(UserError, match="already exists.*--force"):
        report_command.run(report)
    with pytest.raises(UserError, match="hypervolume.png already exists"):
        plot_command.run(_args("plot", "--storage", url, "--study", STUDY, "--out", str(tmp_path), "--formats", "png"))
    assert (tmp_path / "report.html").read_text() == "mine" and (tmp_path / "hypervolume.png").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hypervolume.png", "report.html"]
    report.force = True
    assert report_command.run(report) == 0
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("argv, message", [
    (("plot", "--formats", "png,jpg"), "accepted: a comma-separated list of png, svg"),
    (("plot", "--formats", ","), "accepted"),
    (("report", "--image-format", "gif"), "accepted: png, svg"),
])
def test_bad_formats_are_refused(stored, tmp_path, argv, message):
    url, _ = stored
    args = _args(argv[0], "--storage", url, "--study", STUDY, "--out", str(tmp_path / "o"), *argv[1:])
    with pytest.raises(UserError, match=message):
        (plot_command if argv[0] == "plot" else report_command).run(args)
    assert not (tmp_path / "o").exists()


def test_out_that_is_a_file_is_refused(stored, tmp_path):
    url, _ = stored
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        plot_command.run(_args("plot", "--storage", url, "--study", STUDY, "--out", str(tmp_path / "f")))
