"""Study files (studies/*.yaml): data set, space, target, budgets, objectives, fidelity, sampler, seed."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dse.search.budgets import parse_budgets
from dse.errors import UserError
from dse.search.samplers import SAMPLERS
from dse.training.train import Fidelity
from search_spaces.yaml_files import read_named_yaml

STUDIES_DIR = Path(__file__).resolve().parents[2] / "studies"
DEFAULT_STUDY = "digits-dvs34-fpga-small"  # event frames at sensor resolution; static digits: digits-fpga-small
OBJECTIVES = ("accuracy", "energy", "memory", "sops", "latency", "lut", "ff", "bram", "dsp")
_KEYS = {
    "name", "description", "dataset", "space", "target", "objectives", "budgets", "trials",
    "timeout_s", "fidelity", "sampler", "seed", "reference_fp",
}


@dataclass(frozen=True)
class StudyConfig:
    """Everything a search needs besides where to store it; CLI flags override fields."""

    name: str
    dataset: str = "digits"
    space: str = "default"
    target: str = "fpga-small"
    objectives: tuple[str, ...] = ("accuracy", "energy")
    budgets: dict[str, float] = field(default_factory=dict)
    trials: int = 30
    timeout_s: float | None = None
    fidelity: Fidelity = Fidelity()
    sampler: str = "tpe"
    seed: int = 0
    description: str = ""
    reference_fp: bool = False  # on hardware targets, search the space's fp choices as non-deployable references

    def with_overrides(self, **changes: Any) -> "StudyConfig":
        """A copy with the given non-None fields replaced, validated again."""
        config = replace(self, **{k: v for k, v in changes.items() if v is not None})
        config.validate()
        return config

    def validate(self) -> None:
        if "accuracy" not in self.objectives:
            raise UserError(f"objectives {list(self.objectives)} must include accuracy")
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        if bad:
            raise UserError(f"unknown objective {bad[0]!r}; accepted: {', '.join(OBJECTIVES)}")
        if len(set(self.objectives)) != len(self.objectives) or len(self.objectives) < 2:
            raise UserError(f"objectives {list(self.objectives)} must be accuracy plus at least one distinct cost")
        if self.trials < 1:
            raise UserError(f"trials must be >= 1, got {self.trials}")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise UserError(f"timeout must be a positive number of seconds, got {self.timeout_s}")
        if self.sampler not in SAMPLERS:
            raise UserError(f"unknown sampler {self.sampler!r}; accepted: {', '.join(SAMPLERS)}")



def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key!r} must be true or false, got {value!r}")
    return value


def load_study_config(name_or_path: str | None) -> StudyConfig:
    """Load a shipped study by name (default: DEFAULT_STUDY) or a study YAML by path."""
    name_or_path = name_or_path or DEFAULT_STUDY
    try:
        path, data = read_named_yaml(name_or_path, STUDIES_DIR, "study")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not isinstance(data, dict):
        raise UserError(f"study file {path} must be a mapping with keys {sorted(_KEYS)}")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise UserError(f"study file {path}: unknown key(s) {unknown}; accepted: {sorted(_KEYS)}")
    try:
        fidelity = Fidelity(**(data.get("fidelity") or {}))
        budgets = data.get("budgets") or []
        config = StudyConfig(
            name=str(data.get("name", path.stem)),
            dataset=str(data.get("dataset", "digits")),
            space=str(data.get("space", "default")),
            target=str(data.get("target", "fpga-small")),
            objectives=tuple(data.get("objectives", ("accuracy", "energy"))),
            budgets=parse_budgets([str(b) for b in (budgets if isinstance(budgets, list) else [budgets])]),
            trials=int(data.get("trials", 30)),
            timeout_s=None if data.get("timeout_s") is None else float(data["timeout_s"]),
            fidelity=fidelity,
            sampler=str(data.get("sampler", "tpe")),
            seed=int(data.get("seed", 0)),
            description=str(data.get("description", "")),
            reference_fp=_flag(data.get("reference_fp", False), "reference_fp"),
        )
    except (TypeError, ValueError) as exc:
        raise UserError(f"study file {path}: {exc}") from None
    config.validate()
    return config
