"""Trained weights kept with their trial: a checkpoint file, stored as an Optuna artifact, and loaded back.

A checkpoint is one torch.save file (loaded with weights_only=True) holding the model's state dict
and what rebuilds the model: the Candidate dict and the data set name. TrialRunner uploads it with
optuna.artifacts.upload_artifact into a FileSystemArtifactStore beside the storage (for
sqlite:///DIR/x.db the folder DIR/artifacts) and records the artifact id in the trial's user attr
`model_artifact_id`, so `dse export` needs no retraining. `dse train --out` and `dse export --format pt`
write the same file.
"""

from __future__ import annotations

import pickle
import socket
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from dse.errors import UserError

CHECKPOINT_FORMAT = "snn-dse-checkpoint"
CHECKPOINT_VERSION = 1
ARTIFACT_ID_ATTR = "model_artifact_id"
ARTIFACT_ERROR_ATTR = "model_artifact_error"
ARTIFACT_DIR_ATTR = "model_artifact_dir"  # absolute folder the weights went to, on ...
ARTIFACT_HOST_ATTR = "model_artifact_host"  # ... this host: export elsewhere says where they are
ARTIFACT_FOLDER = "artifacts"


@dataclass
class Checkpoint:
    """What a checkpoint file holds."""

    candidate: dict[str, Any]
    state_dict: dict[str, Any]
    dataset: str | None = None
    source: dict[str, Any] = field(default_factory=dict)  # e.g. {"study": ..., "trial": ...}
    in_step: float | None = None  # value of one input LSB of the data set (digits 1/4, events 1)


def dataset_facts(data: Any) -> tuple[str | None, float | None]:
    """(name, in_step) of a DataSplits, or (name, None) of a data set name."""
    if data is None or isinstance(data, str):
        return data, None
    step = getattr(data, "in_step", None)
    return getattr(data, "name", None), None if step is None else float(step)


def checkpoint_payload(model: Any, data: Any, source: dict[str, Any] | None = None, in_step: float | None = None) -> dict[str, Any]:
    """The dict torch.save writes: format tag, candidate, CPU state dict, data set and its input step, source."""
    name, data_step = dataset_facts(data)
    in_step = data_step if in_step is None else float(in_step)
    return {
        "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION,
        "candidate": model.candidate.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "dataset": name, "in_step": in_step, "source": dict(source or {}),
    }


def write_checkpoint(
    path: str | Path, model: Any, data: Any, source: dict[str, Any] | None = None, in_step: float | None = None
) -> Path:
    """torch.save the checkpoint to a temporary sibling of `path`, then rename it into place."""
    import torch

    from dse.files import atomic_file

    path = Path(path)
    with atomic_file(path, "wb") as handle:
        torch.save(checkpoint_payload(model, data, source, in_step), handle)
    return path


def read_checkpoint(path: str | Path, label: str | None = None) -> Checkpoint:
    """Load and check a checkpoint file; UserError (one line) for a missing, corrupt or foreign file."""
    import torch

    where = label or str(path)
    if not Path(path).is_file():
        raise UserError(f"cannot read checkpoint {where}: no such file")
    try:
        with warnings.catch_warnings():  # a foreign pickle protocol warns before it fails: the error says it all
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError, KeyError, AttributeError) as exc:
        # what torch.load raises on a corrupt, truncated or foreign file (zip, pickle and weights_only checks)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "corrupt"
        raise UserError(f"{where} is not a readable checkpoint ({type(exc).__name__}: {first[:160]})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{where} is not a checkpoint of this tool (no '{CHECKPOINT_FORMAT}' format tag); "
                        "accepted: files written by `dse train --out`, `dse export --format pt` or a trial's artifact")
    if data.get("format_version") != CHECKPOINT_VERSION:
        raise UserError(f"{where}: checkpoint format_version {data.get('format_version')!r}; accepted: {CHECKPOINT_VERSION}")
    if not isinstance(data.get("candidate"), dict) or not isinstance(data.get("state_dict"), dict):
        raise UserError(f"{where}: checkpoint lacks its candidate or state_dict")
    step = data.get("in_step")
    return Checkpoint(data["candidate"], data["state_dict"], data.get("dataset"), data.get("source") or {},
                      None if step is None else float(step))


def load_model(checkpoint: Checkpoint, where: str = "checkpoint") -> Any:
    """Rebuild the SpikingNet of the checkpoint's candidate and load its weights (strict), in eval mode."""
    from dse.training.model import build_model
    from search_spaces.candidate import Candidate

    try:
        candidate = Candidate.from_dict(checkpoint.candidate)
        model = build_model(candidate)
        model.load_state_dict(checkpoint.state_dict, strict=True)
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{where}: its weights do not fit its candidate ({first[:200]})") from None
    model.eval()
    return model


# ---------------------------------------------------------------- Optuna artifacts


def default_artifact_dir(storage_url: str) -> str | None:
    """DIR/artifacts for sqlite:///DIR/x.db; None for in-memory SQLite and other storages (give a folder)."""
    prefix = "sqlite:///"
    if not storage_url.startswith(prefix):
        return None
    db = unquote(storage_url[len(prefix):].split("?", 1)[0])
    if not db or db == ":memory:":
        return None
    return str(Path(db).parent / ARTIFACT_FOLDER)


def save_trial_model(trial: Any, model: Any, artifact_dir: str | Path, data: Any) -> str:
    """Upload the trial's checkpoint as an Optuna artifact; records and returns the artifact id."""
    from optuna.artifacts import FileSystemArtifactStore, upload_artifact

    store_dir = Path(artifact_dir)
    store_dir.mkdir(parents=True, exist_ok=True)
    source = {"study": trial.study.study_name, "trial": trial.number}
    with tempfile.TemporaryDirectory(prefix="dse-ckpt-") as tmp:
        path = Path(tmp) / f"trial-{trial.number}-model.pt"
        write_checkpoint(path, model, data, source)
        artifact_id = upload_artifact(
            artifact_store=FileSystemArtifactStore(store_dir), file_path=str(path), study_or_trial=trial,
            mimetype="application/x-pytorch",
        )
    trial.set_user_attr(ARTIFACT_ID_ATTR, artifact_id)
    trial.set_user_attr(ARTIFACT_DIR_ATTR, str(store_dir.absolute()))
    trial.set_user_attr(ARTIFACT_HOST_ATTR, socket.gethostname())
    return artifact_id


def record_trial_model(trial: Any, model: Any, artifact_dir: str | Path | None, data: Any) -> str | None:
    """save_trial_model that never loses the trial: a failure (or no store) is recorded as the reason.

    `data` is the trial's DataSplits (its name and in_step are kept) or a data set name."""
    if artifact_dir is None:
        trial.set_user_attr(ARTIFACT_ERROR_ATTR, "no artifact folder for this storage (give SearchSettings.artifact_dir)")
        return None
    try:
        return save_trial_model(trial, model, artifact_dir, data)
    except Exception as exc:  # disk full, permissions, storage hiccup: the trial itself stays valid
        trial.set_user_attr(ARTIFACT_ERROR_ATTR, f"{type(exc).__name__}: {str(exc)[:300]}")
        return None


def _where_written(trial: Any) -> str:
    """' (written to DIR on host H)' from the trial's record, naming the host when it is another machine."""
    folder, host = trial.user_attrs.get(ARTIFACT_DIR_ATTR), trial.user_attrs.get(ARTIFACT_HOST_ATTR)
    if folder is None:
        return ""
    if host is not None and host != socket.gethostname():
        return f" (its weights were written to {folder} on host {host!r}: export there, or copy that folder here)"
    return f" (its weights were written to {folder} on this host)"


def load_trial_checkpoint(
    trial: Any, artifact_dir: str | Path | None, study_name: str, retrain_hint: str, fallback_dir: str | None = None,
) -> Checkpoint:
    """The checkpoint stored with a finished trial; UserError naming what is missing, where (which host) the
    weights were written, and how to retrain. `artifact_dir` None: the folder the trial recorded, if it is
    here, else `fallback_dir` (artifacts/ beside a SQLite storage)."""
    from optuna.artifacts import FileSystemArtifactStore, download_artifact
    from optuna.artifacts.exceptions import ArtifactNotFound

    artifact_id = trial.user_attrs.get(ARTIFACT_ID_ATTR)
    if artifact_id is None:
        why = trial.user_attrs.get(ARTIFACT_ERROR_ATTR, "the study was run before trials kept their weights")
        raise UserError(f"trial {trial.number} of study {study_name!r} has no stored model ({why}); {retrain_hint}")
    recorded = trial.user_attrs.get(ARTIFACT_DIR_ATTR)
    if artifact_dir is None:  # the folder the trial wrote to (shared, or this host's), else the storage's default
        artifact_dir = recorded if recorded is not None and Path(recorded).is_dir() else fallback_dir
    where = _where_written(trial)
    if artifact_dir is None or not Path(artifact_dir).is_dir():
        raise UserError(f"trial {trial.number}'s model artifact {artifact_id} needs its artifact folder "
                        f"{artifact_dir or '(none given for this storage)'}{where}; give it with --artifacts")
    with tempfile.TemporaryDirectory(prefix="dse-ckpt-") as tmp:
        path = Path(tmp) / "model.pt"
        try:
            download_artifact(artifact_store=FileSystemArtifactStore(artifact_dir), file_path=str(path), artifact_id=artifact_id)
        except ArtifactNotFound:
            raise UserError(f"trial {trial.number}'s model artifact {artifact_id} is not in {artifact_dir}{where}; "
                            f"give the right folder with --artifacts, or {retrain_hint}") from None
        checkpoint = read_checkpoint(path, f"model artifact {artifact_id} of trial {trial.number}")
    stored = checkpoint.source.get("study")
    if stored is not None and (stored != study_name or checkpoint.source.get("trial") != trial.number):
        raise UserError(f"the artifact of trial {trial.number} holds the model of study {stored!r} trial "
                        f"{checkpoint.source.get('trial')}; the artifact folder belongs to another study")
    return checkpoint
