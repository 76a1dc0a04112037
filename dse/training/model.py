"""Builds the spiking model of a Candidate: quantized layers, spikingjelly neurons, a non-spiking readout.

The structure mirrors cost_models.network exactly (same layers, shapes, no biases) so the
measured spike counts feed the analytic cost model one to one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import layer
from torch import nn

from dse.training.datasets.frames import rebin_frames
from dse.quantizers import LayerContext, QuantizerType, get_quantizer
from search_spaces.candidate import Candidate


class QuantLayer(nn.Module):
    """A linear or conv layer whose weight passes through an injected quantizer (Brevitas-style).

    Multi-step: input [T, B, ...] -> output [T, B, ...]. When the quantizer returns one weight
    per timestep ([T, out, ...]), timestep t uses weight t.
    """

    def __init__(self, kind: str, in_features: int, out_features: int, kernel_size: int, quantizer: nn.Module) -> None:
        super().__init__()
        self.kind = kind
        shape = (out_features, in_features) if kind == "linear" else (out_features, in_features, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.empty(shape))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)  # torch's default for Linear and Conv2d
        self.padding = kernel_size // 2
        self.quantizer = quantizer

    def quantized_weight(self) -> torch.Tensor:
        return self.quantizer(self.weight)

    def _apply_weight(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.kind == "linear":
            return F.linear(x, w)
        return F.conv2d(x, w, padding=self.padding)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        w = self.quantized_weight()
        steps, batch = x_seq.shape[0], x_seq.shape[1]
        if w.dim() == self.weight.dim():
            y = self._apply_weight(x_seq.flatten(0, 1), w)
            return y.view(steps, batch, *y.shape[1:])
        return torch.stack([self._apply_weight(x_seq[t], w[t]) for t in range(steps)])


class SpikingNet(nn.Module):
    """Direct-input spiking network: a static input is repeated over T timesteps; event frames
    are re-binned to T (candidate.input_kind says which).

    forward returns the readout's per-timestep outputs [T, B, classes]; the prediction is
    their mean over T (a non-spiking readout, stack-notes.md's recipe that trains from epoch one).
    """

    def __init__(self, candidate: Candidate, quantizer: QuantizerType) -> None:
        super().__init__()
        self.candidate = candidate
        self.quantizer_type = quantizer
        c = candidate
        options = quantizer.profile.check_options(c.quantizer_options)
        n_layers = c.n_weight_layers
        self.weight_layers = nn.ModuleList()
        self.neurons = nn.ModuleList()
        blocks: list[nn.Module] = []
        channels, height, width = c.input_shape
        features = channels * height * width
        for i, out in enumerate(c.widths):
            ctx = LayerContext(i, n_layers, out, c.timesteps, options)
            wq = quantizer.weight_quantizer(c.weight_bits[i], ctx)
            if c.family == "mlp":
                if i == 0:
                    blocks.append(layer.Flatten(start_dim=1, step_mode="m"))
                lay = QuantLayer("linear", features, out, 1, wq)
                features = out
            else:
                lay = QuantLayer("conv", channels, out, c.kernel_size, wq)
                channels = out
            neu = quantizer.neuron(c.membrane_bits[i], ctx, c.tau, c.v_threshold)
            self.weight_layers.append(lay)
            self.neurons.append(neu)
            blocks += [lay, neu]
            if c.family == "conv":
                pool = c.pooling[i]
                if pool == "max":
                    blocks.append(layer.MaxPool2d(2, 2, step_mode="m"))
                elif pool == "avg":
                    blocks.append(layer.AvgPool2d(2, 2, step_mode="m"))
                if pool != "none":
                    height, width = height // 2, width // 2
        if c.family == "conv":
            blocks.append(layer.Flatten(start_dim=1, step_mode="m"))
            features = channels * height * width
        ctx = LayerContext(n_layers - 1, n_layers, c.num_classes, c.timesteps, options)
        readout = QuantLayer("linear", features, c.num_classes, 1, quantizer.weight_quantizer(c.weight_bits[-1], ctx))
        self.weight_layers.append(readout)
        blocks.append(readout)
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Static [B, C, H, W]: repeated over T. Events [B, F, C, H, W]: re-binned to T (dse/datasets/frames.py)."""
        if self.candidate.input_kind == "events":
            if x.dim() != 5:
                raise ValueError(f"an event-input model takes [B, frames, C, H, W], got shape {tuple(x.shape)}")
            dtype = self.weight_layers[0].weight.dtype
            return self.body(rebin_frames(x.transpose(0, 1), self.candidate.timesteps, dtype))
        x_seq = x.unsqueeze(0).expand(self.candidate.timesteps, *x.shape)
        return self.body(x_seq)


def build_model(candidate: Candidate) -> SpikingNet:
    """The spiking model of a candidate with its quantizer type's layers and neurons."""
    return SpikingNet(candidate, get_quantizer(candidate.quantizer))
