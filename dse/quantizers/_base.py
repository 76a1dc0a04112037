"""The quantizer interface: one QuantizerType per published method, injected into layers and neurons.

A type supplies (a) a weight quantizer module per weight layer, which may return one weight
tensor or one per timestep, (b) the spiking neuron of each hidden layer (so a type may quantize
the membrane or change the integration entirely), and (c) the task loss (classification_loss),
optional loss terms and per-epoch hooks (annealing). The search never looks inside: it asks the registry for a type by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from search_spaces.quantizer_types import QuantizerProfile, get_profile


@dataclass(frozen=True)
class LayerContext:
    """Where a layer sits in the network, for types that treat first/last layers specially."""

    index: int
    n_weight_layers: int
    out_channels: int
    timesteps: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_first(self) -> bool:
        return self.index == 0

    @property
    def is_last(self) -> bool:
        return self.index == self.n_weight_layers - 1


class ChannelGainWeight(nn.Module):
    """Base of weight quantizers with an optional learned per-output-channel gain g_c = exp(l_c) g_0:
    `tawq`'s and `qsnn`'s option `affine`, the stand-in for batch norm's gamma, which export folds into
    the channel's multiplier. With affine "none" there is no parameter. A checkpoint stored before the
    gain existed has no `log_gain`: it loads without one (affine "none"), as it was trained, although
    its candidate's options (no `affine` key) now default to a gain."""

    def __init__(self, affine: str, out_channels: int | None) -> None:
        super().__init__()
        self.affine = affine
        if affine == "none":
            self.log_gain = None
        elif out_channels is None or out_channels < 1:
            raise ValueError(f"affine {affine!r} needs the layer's output channels, got {out_channels}")
        else:
            self.log_gain = nn.Parameter(torch.zeros(out_channels))  # l_c, learned from 0

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        if self.log_gain is not None and prefix + "log_gain" not in state_dict:
            self.log_gain = None
            self.affine = "none"
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    def learned_gain(self) -> torch.Tensor | None:
        """exp(l_c) per output channel [out] (the subclass applies its base); None without a gain."""
        return None if self.log_gain is None else torch.exp(self.log_gain)


class QuantizerType(ABC):
    """Base class of the quantizer types; subclasses register themselves by `name`."""

    name: str = ""
    # What prepare() spent training a teacher for this trial (ternary's distillation; 0 on a cache hit), and
    # whether the teacher came from the cache (None: no teacher). dse.training.train charges it to the trial.
    teacher_seconds: float = 0.0
    teacher_cache_hit: bool | None = None

    @property
    def profile(self) -> QuantizerProfile:
        return get_profile(self.name)

    @abstractmethod
    def weight_quantizer(self, bits: int | None, ctx: LayerContext) -> nn.Module:
        """Module mapping a latent weight [out, ...] to the weight used ([out, ...] or [T, out, ...])."""

    @abstractmethod
    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        """Multi-step spiking neuron: input current [T, B, ...] -> spikes [T, B, ...]."""

    def prepare(self, candidate: Any, data: Any, fidelity: Any, device: torch.device) -> None:
        """Called once before a trial trains (e.g. to fetch or train a cached distillation teacher)."""

    def classification_loss(self, logits_seq: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The task loss: by default the cross-entropy of the time-averaged readout [T, B, classes].

        A type whose paper trains on another task loss overrides it (qsnn: the per-timestep mean)."""
        return F.cross_entropy(logits_seq.mean(0), targets)

    def loss_terms(
        self, model: nn.Module, logits_seq: torch.Tensor, targets: torch.Tensor, inputs: torch.Tensor
    ) -> torch.Tensor | None:
        """Extra loss added to classification_loss (by default the CE of the time-averaged logits); None for none.

        logits_seq is the readout per timestep [T, B, classes]; inputs the batch [B, C, H, W].
        """
        return None

    def on_epoch_start(self, model: nn.Module, epoch: int, epochs: int) -> None:
        """Hook for schedules that depend on training progress (annealed estimators)."""


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round in the forward pass, identity gradient in the backward pass (straight-through)."""
    return x + (torch.round(x) - x).detach()


def sign_ste(x: torch.Tensor) -> torch.Tensor:
    """Sign in {-1, +1} forward; clipped identity gradient (|x| <= 1) backward."""
    hard = torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))
    soft = torch.clamp(x, -1.0, 1.0)
    return soft + (hard - soft).detach()
