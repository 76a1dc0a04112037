"""The samplers `--sampler` and study files accept, and the seeded Optuna sampler of each name.

SAMPLERS is read when the CLI builds its parser, so this module imports Optuna only inside
make_sampler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna

SAMPLERS = ("tpe", "nsga2", "nsga3", "gp", "random")


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """Seeded sampler by name; TPE is multivariate (off by default for multi-objective in Optuna 5)."""
    import optuna

    from dse.errors import UserError

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "nsga3":
        return optuna.samplers.NSGAIIISampler(seed=seed)
    if name == "gp":  # honours trial.set_constraint (constrained log EHVI); needs torch, about 0.4 s a trial
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"unknown sampler {name!r}; accepted: {', '.join(SAMPLERS)}")
