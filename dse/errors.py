"""Errors a user can cause; the CLI turns them into one line and exit code 2."""


class UserError(Exception):
    """Bad input: the message names what was wrong and what is accepted."""


class TrainingDiverged(RuntimeError):
    """A trial's training produced a non-finite loss; the trial fails, the study goes on."""


def load_user_target(name_or_path: str):  # -> cost_models.targets.Target
    """Load a target named on the command line; a bad name or file becomes a one-line UserError."""
    from cost_models.targets import TargetError, load_target

    try:
        return load_target(name_or_path)
    except TargetError as exc:
        raise UserError(str(exc)) from None
