"""Device selection: CUDA when present, else CPU; one place so nothing assumes CPU."""

from __future__ import annotations

import torch


def select_device(preference: str = "auto") -> torch.device:
    """'auto' picks CUDA when available; 'cpu' and 'cuda[:N]' are honoured as given."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {preference!r} requested but CUDA is not available; use 'auto' or 'cpu'")
    return torch.device(preference)
