"""A trained SpikingNet as plain torch layers: nn.Linear / nn.Conv2d holding the fake-quantized weights.

Tools that find a network's synapses by layer type (NeuroBench hooks nn.Linear and nn.Conv*) do not
see the project's QuantLayer, whose weight passes through a quantizer at every forward. This
module writes the weights the trained model uses in eval (`quantized_weight()`: integer code x
scale, zeros exact) into spikingjelly's multi-step `layer.Linear` / `layer.Conv2d`, which are
nn.Linear / nn.Conv2d subclasses, and keeps the model's own neuron modules (deep copies) and
pooling, so the standard-layer network computes exactly what the trained one computes.

A type with one weight set per timestep (`tawq`) becomes a PerTimestepLayer: T plain layers,
layer t applied at timestep t.
"""

from __future__ import annotations

import copy

import torch
from spikingjelly.activation_based import functional, layer
from torch import nn

from dse.training.datasets.frames import rebin_frames
from dse.training.model import QuantLayer, SpikingNet


class PerTimestepLayer(nn.Module):
    """Multi-step [T, B, ...] -> [T, B, ...] with one plain layer per timestep (weights that change over T)."""

    def __init__(self, steps: list[nn.Module]) -> None:
        super().__init__()
        self.steps = nn.ModuleList(steps)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.shape[0] != len(self.steps):
            raise ValueError(f"this layer holds {len(self.steps)} timesteps' weights, got {x_seq.shape[0]} timesteps")
        return torch.stack([step(x_seq[t]) for t, step in enumerate(self.steps)])


def _plain_layer(quant: QuantLayer, weight: torch.Tensor, multi_step: bool) -> nn.Module:
    """nn.Linear or nn.Conv2d (spikingjelly's multi-step subclass when multi_step) with `weight`, no bias."""
    out_features, in_features = weight.shape[0], weight.shape[1]
    if quant.kind == "linear":
        plain = layer.Linear(in_features, out_features, bias=False, step_mode="m") if multi_step \
            else nn.Linear(in_features, out_features, bias=False)
    else:
        k = weight.shape[-1]
        plain = layer.Conv2d(in_features, out_features, k, padding=quant.padding, bias=False, step_mode="m") \
            if multi_step else nn.Conv2d(in_features, out_features, k, padding=quant.padding, bias=False)
    with torch.no_grad():
        plain.weight.copy_(weight)
    plain.weight.requires_grad_(False)
    return plain


@torch.no_grad()
def standard_layer(quant: QuantLayer) -> nn.Module:
    """The plain layer(s) holding the weights `quant` uses in eval (its training mode is restored)."""
    was_training = quant.training
    quant.eval()
    try:
        weight = quant.quantized_weight().detach().clone()
    finally:
        quant.train(was_training)
    if weight.dim() == quant.weight.dim():
        return _plain_layer(quant, weight, multi_step=True)
    return PerTimestepLayer([_plain_layer(quant, w, multi_step=False) for w in weight])


class StandardLayerNet(nn.Module):
    """The trained network in standard layers: same input, same [T, B, classes] output as SpikingNet.

    Every forward starts from reset neurons (spikingjelly's reset_net), so callers that do not reset
    between batches (NeuroBench's TorchModel) see one independent inference per sample.
    """

    def __init__(self, model: SpikingNet) -> None:
        super().__init__()
        self.candidate = model.candidate
        blocks = [standard_layer(m) if isinstance(m, QuantLayer) else copy.deepcopy(m) for m in model.body]
        self.body = nn.Sequential(*blocks)
        self.neuron_types = tuple(dict.fromkeys(type(n) for n in model.neurons))  # what NeuroBench must hook
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self)
        if self.candidate.input_kind == "events":
            if x.dim() != 5:
                raise ValueError(f"an event-input model takes [B, frames, C, H, W], got shape {tuple(x.shape)}")
            return self.body(rebin_frames(x.transpose(0, 1), self.candidate.timesteps, torch.float32))
        x_seq = x.unsqueeze(0).expand(self.candidate.timesteps, *x.shape)
        return self.body(x_seq)


def standard_layer_model(model: SpikingNet) -> StandardLayerNet:
    """The trained model as plain nn.Linear / nn.Conv2d layers with its eval weights, in eval mode (float32)."""
    return StandardLayerNet(model).to(torch.float32)


__all__ = ["PerTimestepLayer", "StandardLayerNet", "standard_layer", "standard_layer_model"]
