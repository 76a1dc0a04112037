"""A search's settings and its study: the fingerprint that decides whether a stored study may be
resumed, and opening (creating or joining) the study in its storage."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import optuna

from cost_models.report import QUANTITY_FIELDS
from cost_models.targets import Target
from dse.errors import UserError
from dse.search.samplers import make_sampler
from dse.search.storage import create_or_load_study, make_storage
from dse.training.train import Fidelity
from search_spaces.space import SearchSpace


@dataclass(frozen=True)
class SearchSettings:
    """A resolved search: what to explore, on which target, under which budgets, stored where."""

    study_name: str
    storage_url: str
    space: SearchSpace
    target: Target
    budgets: dict[str, float]
    objectives: tuple[str, ...]
    trials: int
    timeout_s: float | None
    fidelity: Fidelity
    sampler: str
    seed: int
    dataset: str
    early_stopping: bool = True  # stop trials dominated at equal epochs (dse/early_stop.py, docs/search.md)
    heartbeat_s: int = 10  # worker heartbeat; a trial silent for 3 beats is failed and retried
    artifact_dir: str | None = None  # trained weights as Optuna artifacts; None: DIR/artifacts beside sqlite:///DIR/x.db
    # fp weights/membranes searched as non-deployable reference points on a hardware target (dse search
    # --reference-fp); False: the space was stripped of them (SearchSpace.for_target). Part of the fingerprint.
    reference_fp: bool = False

    def fingerprint(self) -> dict[str, Any]:
        """Everything that decides a trial's numbers: a stored study is resumed only by settings with the same
        fingerprint, so one front never mixes trials costed on two targets, budgets, fidelities or splits."""
        return {
            "objectives": list(self.objectives), "space": self.space.name, "space_digest": self.space.digest(),
            "dataset": self.dataset, "seed": self.seed, "target": self.target.name, "target_digest": self.target.digest(),
            "budgets": dict(sorted(self.budgets.items())), "epochs": self.fidelity.epochs,
            "batch_size": self.fidelity.batch_size, "lr": self.fidelity.lr, "reference_fp": bool(self.reference_fp),
        }


def fingerprint_differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """'KEY STORED there, WANTED here' for each setting that differs; keys an older study did not store are skipped."""
    return [f"{key} {_shown(stored[key])} there, {_shown(value)} here"
            for key, value in wanted.items() if key in stored and _normal(stored[key]) != _normal(value)]


def _normal(value: Any) -> Any:
    """JSON round trip: the storage keeps settings as JSON (tuples come back as lists, keys as strings)."""
    return json.loads(json.dumps(value, sort_keys=True))


def _shown(value: Any) -> str:
    return "none" if value == {} else repr(value)


def directions(objectives: tuple[str, ...]) -> list[str]:
    return ["maximize" if o == "accuracy" else "minimize" for o in objectives]


def metric_names(objectives: tuple[str, ...] | list[str]) -> list[str]:
    """Optuna's names of the objective values, with units: the cost report's field names
    ('accuracy' (a fraction), 'energy_mj', 'memory_bytes', 'sops', 'latency_s', 'lut', 'ff', 'bram18', 'dsp')."""
    return ["accuracy" if o == "accuracy" else QUANTITY_FIELDS[o] for o in objectives]


def name_metrics(study: optuna.Study, objectives: tuple[str, ...] | list[str]) -> None:
    """study.set_metric_names unless the study already has names (optuna-dashboard and Optuna's plots read them)."""
    if study.metric_names is not None:
        return
    with warnings.catch_warnings():  # set_metric_names is marked experimental since Optuna 3.2
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(metric_names(objectives))


def adopt_marks(study: optuna.Study) -> None:
    """Mark the study's trials from now on (dse.results.front.MARKS) when it holds no completed trial:
    every completed trial of a study must carry the same constraint keys (GPSampler refuses otherwise),
    so a study with unmarked completed trials, made before the marks, stays unmarked."""
    from dse.results.front import MARKS, MARKS_ATTR

    if MARKS_ATTR in study.user_attrs or completed_count(study) > 0:
        return
    study.set_user_attr(MARKS_ATTR, list(MARKS))


def open_study(settings: SearchSettings, worker: int = 0) -> optuna.Study:
    """Create the study or join an existing one with the same objectives, space and data set.

    `worker` offsets the sampler's seed so parallel workers do not propose the same candidates.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = make_storage(settings.storage_url, settings.heartbeat_s)
    study = create_or_load_study(
        storage, settings.study_name, settings.storage_url, directions(settings.objectives),
        make_sampler(settings.sampler, settings.seed + worker),
    )
    stored = study.user_attrs.get("dse")
    wanted = settings.fingerprint()
    if stored is None:
        adopt_marks(study)  # before "dse": a worker that sees the fingerprint sees the marks
        name_metrics(study, settings.objectives)
        study.set_user_attr("dse", wanted)
        study.set_user_attr("target", settings.target.name)
        study.set_user_attr("budgets", settings.budgets)
        return study
    differences = fingerprint_differences(stored, wanted)
    if differences:
        raise UserError(
            f"study {settings.study_name!r} already exists in {settings.storage_url} with other settings "
            f"({'; '.join(differences)}): resume it with the stored settings, or choose another --study name or --storage"
        )
    adopt_marks(study)
    name_metrics(study, settings.objectives)  # a study made before dse named its metrics
    return study


def completed_count(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
