"""Issue 13: on hardware targets the space holds only what can be built.

fp weights and membranes are left out (one warning line) unless `--reference-fp` keeps them as
reference points: marked `deployable: false`, drawn apart, never on the front, listed as
'reference' in pareto.json; the choice is part of the study's fingerprint. Parallelism never
exceeds a layer's output width.
"""

import json

import optuna
import pytest

from cost_models.targets import load_target
from dse.cli import main
from dse.errors import UserError
from dse.results import plots
from dse.results.front import front_document, pareto_front, reference_front
from dse.search.study import open_study
from dse.search.study_files import load_study_config
from search_spaces.quantizer_types import PROFILES
from search_spaces.space import SearchSpace, SpaceError, is_deployable

INPUT_SHAPE, CLASSES = (1, 8, 8), 10
FPGA = load_target("fpga-small")


def draw(space: SearchSpace, n: int = 200, seed: int = 0):
    """n candidates from an in-memory study with Optuna's RandomSampler (the in-memory storage refuses a
    parameter name whose distribution changes between trials, so this also checks the distributions)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.suggest(trial, INPUT_SHAPE, CLASSES))
        study.tell(trial, 0.0)
    return out


def has_fp(candidate) -> bool:
    membranes = bool(PROFILES[candidate.quantizer].membrane_bits)
    return None in candidate.weight_bits or (membranes and None in candidate.membrane_bits)


def output_widths(candidate) -> list[int]:
    return [*candidate.widths, candidate.num_classes]


@pytest.mark.parametrize("name", ["default", "all-quantizers"])
def test_hardware_space_has_no_fp_without_the_flag_and_may_with_it(name):
    shipped = SearchSpace.load(name)
    assert shipped.full_precision_offered()  # both shipped spaces list fp
    space, warning = shipped.for_target(FPGA.name, FPGA.kind, reference_fp=False)
    assert warning is None and not space.full_precision_offered()  # shipped spaces: fp only for --reference-fp, no warning
    assert space.digest() != shipped.digest()  # a study remembers which space it searched
    candidates = draw(space)
    assert not any(has_fp(c) for c in candidates)
    assert all(is_deployable(c) for c in candidates)
    assert {c.quantizer for c in candidates} == set(shipped.quantizers)  # every type is still searched

    kept, warning = shipped.for_target(FPGA.name, FPGA.kind, reference_fp=True)
    assert warning is None and kept == shipped
    candidates = draw(kept)
    fp = [c for c in candidates if has_fp(c)]
    assert fp and not any(is_deployable(c) for c in fp)
    assert all(is_deployable(c) for c in candidates if not has_fp(c))


@pytest.mark.parametrize("name", ["default", "all-quantizers"])
@pytest.mark.parametrize("reference_fp", [False, True])
def test_parallelism_never_exceeds_the_layer_output_width(name, reference_fp):
    space, _ = SearchSpace.load(name).for_target(FPGA.name, FPGA.kind, reference_fp)
    assert max(space.parallelism) > CLASSES  # the shipped spaces offer P=16 for a 10-class readout
    candidates = draw(space)
    for c in candidates:
        assert all(p <= w for p, w in zip(c.parallelism, output_widths(c), strict=True)), c
    readouts = {c.parallelism[-1] for c in candidates}
    assert readouts == {4, CLASSES}  # 16 is clamped to the 10 classes: fully parallel


def test_parallelism_cap_keeps_one_distribution_per_name_under_tpe(tmp_path):
    path = tmp_path / "wide-p.yaml"
    path.write_text(
        "families:\n  mlp: {depth: [1, 2], widths: [8, 32]}\n  conv: {blocks: [1, 2], channels: [4, 16]}\n"
        "weight_bits: [2, 4]\nmembrane_bits: [6]\ntimesteps: [1]\nparallelism: [1, 8, 64]\n"
    )
    space = SearchSpace.load(str(path))
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5, multivariate=True))
    for i in range(30):
        trial = study.ask()
        c = space.suggest(trial, INPUT_SHAPE, CLASSES)
        assert all(p <= w for p, w in zip(c.parallelism, output_widths(c)))
        for j, p in enumerate(c.parallelism):  # the suggested value, clamped to the width
            assert p == min(trial.params[f"parallelism_{j}"], output_widths(c)[j])
        study.tell(trial, float(i % 3))


def test_no_warning_when_the_space_has_no_fp_and_a_type_with_only_fp_is_refused(tmp_path):
    path = tmp_path / "int.yaml"
    path.write_text("families:\n  mlp: {depth: [1], widths: [16]}\nweight_bits: [2, 4]\nmembrane_bits: [6]\ntimesteps: [1]\n")
    space = SearchSpace.load(str(path))
    assert space.for_target(FPGA.name, FPGA.kind, False) == (space, None)
    path.write_text("families:\n  mlp: {depth: [1], widths: [16]}\nweight_bits: [fp]\nmembrane_bits: [6]\ntimesteps: [1]\n")
    only_fp = SearchSpace.load(str(path))
    with pytest.raises(SpaceError, match="'uniform' offers only full-precision .* weight bits, which fpga-small .*--reference-fp"):
        only_fp.for_target(FPGA.name, FPGA.kind, False)
    assert only_fp.for_target(FPGA.name, FPGA.kind, True) == (only_fp, None)


def test_mfp_without_membranes_is_deployable_with_integer_weights():
    from search_spaces.candidate import Candidate

    assert is_deployable(Candidate("mlp", (8,), (4, 4), (None,), 2, quantizer="mfp"))
    assert not is_deployable(Candidate("mlp", (8,), (None, 4), (None,), 2, quantizer="mfp"))
    assert not is_deployable(Candidate("mlp", (8,), (4, 4), (None,), 2))  # uniform: an fp membrane


# ---------------------------------------------------------------- the command


def _search(tiny_study, out, *extra):
    return main(["search", "--study-config", tiny_study, "--out", str(out), "--quiet", "--verify", "0",
                 "--trials", "2", *extra])


def test_fp_space_on_a_hardware_target_warns_once_and_a_resume_with_the_other_choice_is_refused(
        tmp_path, tiny_study, capsys):
    out = tmp_path / "out"
    assert _search(tiny_study, out) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    assert warnings[0] == (
        "dse search: warning: space 'tiny-space' offers full-precision (fp) weights and membranes, which fpga-small "
        "(fpga) cannot build: those points are not deployable and are left out of this search (give --reference-fp "
        "to search them as reference points, marked not deployable)"
    )
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    assert study.user_attrs["dse"]["reference_fp"] is False
    assert all(t.user_attrs["deployable"] is True for t in study.trials)

    before = (out / "pareto.json").read_text()
    assert _search(tiny_study, out, "--reference-fp") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already exists" in err and "reference_fp False there, True here" in err
    assert (out / "pareto.json").read_text() == before

    other = tmp_path / "ref"
    assert _search(tiny_study, other, "--reference-fp") == 0
    assert "warning" not in capsys.readouterr().err
    assert _search(tiny_study, other, "--no-reference-fp") == 2
    assert "reference_fp True there, False here" in capsys.readouterr().err
    assert "reference" in json.loads((other / "pareto.json").read_text())


def test_resume_with_another_reference_fp_setting_is_refused(make_settings):
    open_study(make_settings(study_name="r", reference_fp=True))
    with pytest.raises(UserError, match="reference_fp True there, False here"):
        open_study(make_settings(study_name="r", reference_fp=False))


def test_study_file_key(tmp_path, tiny_study):
    assert load_study_config(tiny_study).reference_fp is False
    path = tmp_path / "ref.yaml"
    path.write_text(open(tiny_study).read() + "reference_fp: true\n")
    assert load_study_config(str(path)).reference_fp is True
    path.write_text(open(tiny_study).read() + "reference_fp: maybe\n")
    with pytest.raises(UserError, match="'reference_fp' must be true or false"):
        load_study_config(str(path))


def test_the_runner_marks_reference_trials_and_keeps_them_off_the_front(make_settings, digits):
    from dse.search.runner import run_search

    study = run_search(make_settings(study_name="m", reference_fp=True, trials=8, budgets={"energy": 0.6}), digits, "cpu")
    marks = {t.number: t.user_attrs["deployable"] for t in study.trials}
    from search_spaces.candidate import Candidate

    assert all(marks[t.number] == is_deployable(Candidate.from_dict(t.user_attrs["candidate"])) for t in study.trials)
    assert False in marks.values()  # the tiny space's fp choices were drawn
    assert all(marks[t.number] for t in pareto_front(study, verified=False))


# ---------------------------------------------------------------- front, pareto.json and plots


def _trial(number_accuracy, energy, deployable, bits):
    cost = {"energy_mj": energy, "memory_bytes": 1000.0, "lut": 1000, "bram18": 1}
    candidate = {"family": "mlp", "widths": [16], "weight_bits": [bits, bits], "membrane_bits": [6],
                 "timesteps": 1, "quantizer": "uniform"}
    return optuna.trial.create_trial(
        values=[number_accuracy, energy],
        user_attrs={"status": "trained", "accuracy": number_accuracy, "cost": cost, "candidate": candidate,
                    "deployable": deployable},
    )


@pytest.fixture
def mixed_study():
    """Trials 0, 1 deployable; 2 an fp reference that dominates 1; 3 an fp reference dominated by 0."""
    study = optuna.create_study(directions=["maximize", "minimize"], study_name="mixed")
    study.set_user_attr("dse", {"objectives": ["accuracy", "energy"]})
    study.set_user_attr("target", "fpga-small")
    study.set_user_attr("budgets", {})
    for t in (_trial(0.80, 0.010, True, 4), _trial(0.90, 0.020, True, 8), _trial(0.95, 0.015, False, None),
              _trial(0.70, 0.030, False, None)):
        study.add_trial(t)
    return study


def test_reference_trials_never_enter_the_front_nor_push_a_deployable_trial_off_it(mixed_study):
    assert [t.number for t in mixed_study.best_trials] == [0, 2]  # Optuna's front: 2 dominates 1
    assert [t.number for t in pareto_front(mixed_study)] == [1, 0]
    assert [t.number for t in reference_front(mixed_study)] == [2]
    doc = front_document(mixed_study, "memory")
    assert [m["trial"] for m in doc["front"]] == [1, 0]
    assert [(m["trial"], m["deployable"]) for m in doc["reference"]] == [(2, False)]


def test_reference_trials_are_drawn_apart_with_their_own_legend(mixed_study):
    view = plots.study_view(mixed_study)
    by_number = {p.number: p for p in view.points}
    assert [p.number for p in view.front_points] == [1, 0]
    assert not by_number[2].deployable and by_number[2].on_reference_front and not by_number[2].on_front
    assert not by_number[3].deployable and not by_number[3].on_reference_front
    assert by_number[0].deployable and by_number[1].deployable

    fig = plots.pareto_figure(view, "energy")
    ax = fig.axes[0]
    handles, labels = ax.get_legend_handles_labels()
    assert f"{plots.REFERENCE_LABEL}: 2" in labels
    assert not any(label.startswith("feasible, dominated") for label in labels)  # 2 and 3 are not counted as dominated
    reference = handles[labels.index(f"{plots.REFERENCE_LABEL}: 2")]
    front = handles[next(i for i, label in enumerate(labels) if label.startswith("Pareto front"))]
    assert sorted(map(tuple, reference.get_offsets().tolist())) == [(0.015, 0.95), (0.03, 0.70)]
    assert sorted(map(tuple, front.get_offsets().tolist())) == [(0.01, 0.80), (0.02, 0.90)]
    assert tuple(reference.get_facecolor()[0][:3]) != tuple(front.get_facecolor()[0][:3])
    diamond, circle = (h.get_paths()[0].vertices for h in (reference, front))
    assert diamond.shape != circle.shape  # a diamond, not the front's circle
    texts = {t.get_text() for t in ax.texts}
    assert {"#0", "#1", "#2 fp"} <= texts and "#3 fp" not in texts

    three = plots.three_objective_figure(view).axes[0]
    assert f"{plots.REFERENCE_LABEL}: 2" in three.get_legend_handles_labels()[1]


CONV_QSNN_SPACE = """
families:
  conv: {blocks: [1], channels: [4], pooling: [none]}
weight_bits: [1, 8]
membrane_bits: [16]
timesteps: [2]
parallelism: [4]
quantizers:
  qsnn: {rate_layers: [inner]}
"""


def test_a_configuration_the_template_cannot_build_is_screened_and_never_trained(tmp_path, monkeypatch):
    """On a hardware target the deployable front holds only what exports: a 16-bit Q-SNN membrane (the
    template's comparator bank takes 2..12 bits) is screened before training with the reason, like a
    candidate over budget."""
    import dse.search.runner as runner
    from dse.cli import main
    from dse.hardware.verilog_template import template_refusal
    from search_spaces.candidate import Candidate

    conv = Candidate("conv", (4,), (8, 8), (6,), 2, pooling=("none",), parallelism=(4, 4))
    assert template_refusal(conv) is None
    assert "Q-SNN" in template_refusal(Candidate("conv", (4,), (8, 8), (16,), 2, quantizer="qsnn",
                                                 pooling=("none",), parallelism=(4, 4)))
    assert template_refusal(Candidate("conv", (4,), (8, 8), (4,), 2, quantizer="qsnn", pooling=("none",),
                                      parallelism=(4, 4))) is None  # every type is built in conv layers
    assert template_refusal(Candidate("conv", (4,), (2, 2), (6,), 2, quantizer="ternary",
                                      quantizer_options={"algorithm": "ttq", "distill": False},
                                      pooling=("none",), parallelism=(4, 4))) is None
    assert template_refusal(Candidate("mlp", (8,), (2, 2), (4,), 2, quantizer="qsnn")) is None
    monkeypatch.setattr(runner, "train_candidate", lambda *a, **k: pytest.fail("must not train"))
    space = tmp_path / "space.yaml"
    space.write_text(CONV_QSNN_SPACE)
    out = tmp_path / "out"
    assert main(["search", "--study-config", "digits-fpga-small", "--space", str(space), "--trials", "2", "--epochs", "1",
                 "--verify", "0", "--quiet", "--out", str(out)]) == 0
    study = optuna.load_study(study_name="digits-fpga-small", storage=f"sqlite:///{out / 'study.db'}")
    trials = study.get_trials()
    assert len(trials) == 2 and all(t.user_attrs["status"] == "screened" for t in trials)
    assert all(any("not buildable: Q-SNN membrane bits 16" in v for v in t.user_attrs["violations"])
               for t in trials)
    assert study.best_trials == [] or all(t.user_attrs["status"] != "trained" for t in study.best_trials)
