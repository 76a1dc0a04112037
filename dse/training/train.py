"""Quantization-aware training of one candidate and measurement of its spiking activity.

Recipe (stack-notes.md, trains from the first epoch): inputs scaled to [0, 4], non-spiking
readout averaged over T, cross-entropy (the type's classification_loss: of the time-averaged
readout, or for qsnn the mean of the per-timestep cross-entropies, as its authors train) plus the
type's loss_terms, Adam with lr 1e-2, batch 64.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional

from cost_models.report import Activity, LayerActivity
from dse.training.data import DataSplits, Split
from dse.errors import TrainingDiverged
from dse.training.model import SpikingNet, build_model
from search_spaces.candidate import Candidate

ECE_BINS = 15


@dataclass(frozen=True)
class Fidelity:
    """How hard a trial trains: epochs, batch size, learning rate."""

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-2

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError("fidelity needs epochs >= 1, batch_size >= 1 and lr > 0")


@dataclass
class TrainResult:
    """What training measured: accuracy, activity for the cost model, firing rates, timing."""

    accuracy: float
    activity: Activity
    firing_rates: dict[str, float]
    epochs: int
    train_seconds: float
    loss_history: list[float] = field(default_factory=list)
    model: SpikingNet | None = None
    ece: float = float("nan")  # expected calibration error on data.val (15 bins)
    stop_reason: str | None = None  # set when an on_epoch callback stopped training before fidelity.epochs
    teacher_seconds: float = 0.0  # distillation teacher trained for this run (in train_seconds too); 0 on a cache hit
    teacher_cache_hit: bool | None = None  # True: the teacher came from the cache; None: no teacher


class StopTraining(Exception):
    """Raised by an on_epoch callback to end training early; train_candidate measures the model as it is."""


EpochCallback = Callable[[int, SpikingNet], None]  # (epochs done so far, model) -> None; may raise StopTraining


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) so a trial is reproducible on the same machine."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def train_candidate(
    candidate: Candidate,
    data: DataSplits,
    fidelity: Fidelity,
    seed: int,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train the candidate's model on data.train and measure it on data.val.

    on_epoch(epochs_done, model) runs after every epoch but the last (the final measurement follows);
    it may raise StopTraining to end early: the model is then measured as it is."""
    seed_everything(seed)
    model = build_model(candidate).to(device)
    start = time.perf_counter()  # a teacher that prepare() trains is charged to this run (ternary's distillation)
    model.quantizer_type.prepare(candidate, data, fidelity, device)
    train = data.train.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=fidelity.lr)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    stop_reason: str | None = None
    for epoch in range(fidelity.epochs):
        model.train()
        model.quantizer_type.on_epoch_start(model, epoch, fidelity.epochs)
        order = torch.randperm(len(train), generator=generator).to(device)
        epoch_loss = 0.0
        for i in range(0, len(train), fidelity.batch_size):
            idx = order[i : i + fidelity.batch_size]
            x, y = train.x.index_select(0, idx), train.y.index_select(0, idx)  # event frames: 20x faster than x[idx]
            logits_seq = model(x)
            loss = model.quantizer_type.classification_loss(logits_seq, y)
            extra = model.quantizer_type.loss_terms(model, logits_seq, y, x)
            if extra is not None:
                loss = loss + extra
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"non-finite loss at epoch {epoch + 1}, batch {i // fidelity.batch_size + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            functional.reset_net(model)
            epoch_loss += float(loss.detach()) * len(idx)
        losses.append(epoch_loss / len(train))
        if on_epoch is not None and epoch + 1 < fidelity.epochs:
            try:
                on_epoch(epoch + 1, model)
            except StopTraining as stop:
                stop_reason = str(stop)
                break
    train_seconds = time.perf_counter() - start
    accuracy, activity, rates, ece = measure(model, data.val.to(device), fidelity.batch_size * 4)
    q = model.quantizer_type
    return TrainResult(accuracy, activity, rates, len(losses), train_seconds, losses, model, ece, stop_reason,
                       teacher_seconds=q.teacher_seconds, teacher_cache_hit=q.teacher_cache_hit)


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = ECE_BINS) -> float:
    """ECE: sum over equal-width confidence bins of |bin| / n x |accuracy - mean confidence|."""
    if len(labels) == 0:
        return float("nan")
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).to(torch.float64)
    confidence = confidence.to(torch.float64)
    bins = torch.clamp((confidence * n_bins).ceil().long() - 1, 0, n_bins - 1)  # (k/n, (k+1)/n]
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        count = int(in_bin.sum())
        if count:
            ece += count / len(labels) * abs(float(correct[in_bin].mean() - confidence[in_bin].mean()))
    return ece


@torch.no_grad()
def nonzero_weights(layer: torch.nn.Module, input_shape: tuple[int, ...] | None) -> tuple[float, np.ndarray | None]:
    """The layer's evaluated weights (layer.quantized_weight() in the model's current mode; measure()
    runs in eval): the fraction that is nonzero, and per input element of `input_shape` (the
    layer's input per sample: (in_features,) or (C, H, W)) the number of nonzero weights an event
    there meets; None when the shape is unknown. A type with one weight set per timestep gives
    the mean over its sets (the events are summed over T, not kept per step)."""
    w = layer.quantized_weight().detach()
    sets = w if w.dim() == layer.weight.dim() + 1 else w.unsqueeze(0)
    mask = (sets != 0).to(torch.float64)
    fraction = float(mask.mean())
    if input_shape is None:
        return fraction, None
    if layer.kind == "linear":
        fanout = mask.sum(dim=1).mean(dim=0)  # [sets, out, in] -> per input feature
    else:
        _, h, width = input_shape
        k = layer.weight.shape[-1]
        ones = torch.ones(1, mask.shape[1], h + 2 * layer.padding - k + 1, width + 2 * layer.padding - k + 1,
                          dtype=torch.float64, device=mask.device)
        # stride-1 transposed conv of all-ones outputs with the nonzero mask: for each input
        # position, the (output position, output channel) pairs reached through a nonzero weight
        fanout = torch.stack([F.conv_transpose2d(ones, m, padding=layer.padding)[0] for m in mask]).mean(dim=0)
    return fraction, fanout.reshape(input_shape).cpu().numpy()


@torch.no_grad()
def measure(
    model: SpikingNet, split: Split, batch_size: int = 256
) -> tuple[float, Activity, dict[str, float], float]:
    """Accuracy, per-layer input events (per position, summed over T, mean per sample) with the
    layers' nonzero-weight fraction and per-position nonzero fan-out (nonzero_weights(): for the
    cost model's effective ACs), firing rates and the expected calibration error of the
    time-averaged readout's softmax."""
    model.eval()
    n_layers = len(model.weight_layers)
    in_events: list[torch.Tensor | None] = [None] * n_layers
    out_spikes = [0.0] * n_layers
    neuron_sizes = [0] * n_layers
    hooks = []

    def layer_hook(i: int):
        def hook(_module, inputs, _output):
            counts = (inputs[0] != 0).sum(dim=(0, 1)).to(torch.float64)
            in_events[i] = counts if in_events[i] is None else in_events[i] + counts
        return hook

    def neuron_hook(i: int):
        def hook(_module, _inputs, output):
            out_spikes[i] += float(output.sum())
            neuron_sizes[i] = int(np.prod(output.shape[2:]))
        return hook

    for i, lay in enumerate(model.weight_layers):
        hooks.append(lay.register_forward_hook(layer_hook(i)))
    for i, neu in enumerate(model.neurons):
        hooks.append(neu.register_forward_hook(neuron_hook(i)))
    correct = 0
    probs: list[torch.Tensor] = []
    try:
        for i in range(0, len(split), batch_size):
            x, y = split.x[i : i + batch_size], split.y[i : i + batch_size]
            logits = model(x).mean(0)
            correct += int((logits.argmax(1) == y).sum())
            probs.append(torch.softmax(logits.float(), dim=1).cpu())
            functional.reset_net(model)
    finally:
        for h in hooks:
            h.remove()
    n = max(len(split), 1)
    timesteps = model.candidate.timesteps
    layers: dict[str, LayerActivity] = {}
    rates: dict[str, float] = {}
    for i in range(n_layers):
        events = (in_events[i] / n).cpu().numpy() if in_events[i] is not None else 0.0
        spikes = out_spikes[i] / n
        shape = tuple(in_events[i].shape) if in_events[i] is not None else None
        fraction, fanout = nonzero_weights(model.weight_layers[i], shape)
        layers[f"layer{i}"] = LayerActivity(
            input_events=events, output_spikes=spikes, nonzero_weight_fraction=fraction, nonzero_fanout=fanout
        )
        if i < len(model.neurons) and neuron_sizes[i]:
            rates[f"layer{i}"] = spikes / (neuron_sizes[i] * timesteps)
    accuracy = correct / n
    if not math.isfinite(accuracy):
        raise TrainingDiverged("accuracy is not finite")
    ece = expected_calibration_error(torch.cat(probs), split.y.cpu()) if probs else float("nan")
    return accuracy, Activity(layers=layers), rates, ece
