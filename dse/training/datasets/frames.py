"""Event frames to a candidate's timesteps: the one rule for when the data's T and the candidate's differ.

Rule: data frame i (of F) falls into timestep floor(i x T / F); a timestep carries an event at a
pixel and polarity when any of its frames does (sum, then clip to 1). T = F keeps the frames;
T dividing F ORs F / T adjacent frames; T > F leaves the timesteps no frame falls into empty,
so events keep their time. Inputs stay binary, so layer 0 remains accumulate-only.
"""

from __future__ import annotations

import torch


def frame_to_step(frames: int, timesteps: int) -> torch.Tensor:
    """Timestep index of every data frame: floor(i x T / F)."""
    return torch.arange(frames) * timesteps // frames


def rebin_frames(x_seq: torch.Tensor, timesteps: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[F, B, ...] 0/1 frames -> [T, B, ...] 0/1 timesteps of `dtype` (see the module's rule)."""
    frames = x_seq.shape[0]
    if frames == timesteps:
        return x_seq.to(dtype)
    if frames % timesteps == 0:  # T divides F: the same rule as a max over each F / T frames, before the cast (cheaper)
        grouped = x_seq.reshape(timesteps, frames // timesteps, *x_seq.shape[1:])
        return grouped.amax(dim=1).to(dtype).clamp_(max=1)
    x_seq = x_seq.to(dtype)
    index = frame_to_step(frames, timesteps).to(x_seq.device)
    out = x_seq.new_zeros((timesteps, *x_seq.shape[1:]))
    out.index_add_(0, index, x_seq)
    return out.clamp_(max=1.0)
