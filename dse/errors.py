"""Errors a user can cause; the CLI turns them into one line and exit code 2."""


class UserError(Exception):
    """Bad input: the message names what was wrong and what is accepted."""


class TrainingDiverged(RuntimeError):
    """A trial's training produced a non-finite loss; the trial fails, the study goes on."""
