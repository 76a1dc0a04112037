"""Integer-only reference simulation of an exported network (docs/integer-semantics.md, exactly).

No floats enter the update: accumulators, membranes, multipliers and logits are integers (numpy
int64 where the bound proves int64 safe, Python ints in object arrays otherwise). Per spiking layer
and timestep:  acc = sum_j q_ij in_j;  H = m (2^k - 1) 2^F + acc M;  h = round_half_even(H / 2^(F+k));
h = clamp(h, -2^(b-1), 2^(b-1) - 1);  spike = h >= 2^(b-2);  m = 0 if spike else h.
Max pool of spikes is an OR, average pool the sum of the 2x2 spikes (the next layer's in_step is 1/4).
Readout: logits_i = M_i sum_t acc_i(t); the class is the argmax (ties: the lowest index).
At scale_bits F = 32 this reproduces the float64 fake-quantized model spike for spike; at a hardware F
it is the bit-exact reference of the Verilog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dse.errors import UserError
from dse.export.integer_network import (
    LIF, MFP, PER_TIMESTEP, QSNN, SCALED, SIGN_SCALES, IntegerLayer, IntegerNetwork,
)

INT64_SAFE = 2**62  # products and sums below this bound cannot overflow int64


@dataclass
class SimResult:
    """Spikes per spiking layer [T, B, ...] (uint8), integer logits [B, classes], predicted classes [B]."""

    spikes: list[np.ndarray]
    logits: np.ndarray
    predictions: np.ndarray
    # with simulate(..., record_ties=True): per spiking layer [T, B, ...] bool, where the exact value sat on a
    # boundary: LIF: H / 2^(F+k) exactly halfway (round half to even decided); Q-SNN: H == Theta; MFP: V_t == Theta_t.
    # A float model can resolve these the other way by a residue of its own rounding (docs/integer-semantics.md).
    ties: list[np.ndarray] | None = None


def input_codes(x: Any, in_step: float) -> np.ndarray:
    """Integer input codes x / in_step; UserError if the input is not on that grid."""
    values = np.asarray(x.detach().cpu().double().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    codes = np.rint(values / in_step)
    if not np.allclose(codes * in_step, values, rtol=0, atol=1e-9 * max(1.0, in_step)):
        raise UserError(f"the input is not a whole multiple of the input step {in_step:g}; it has no exact integer code")
    return codes.astype(np.int64)


def round_half_even_shift(value: np.ndarray, shift: int) -> np.ndarray:
    """round_half_even(value / 2^shift) for integer arrays (int64 or Python-int object arrays)."""
    if shift == 0:
        return value
    div = 1 << shift
    quotient = value // div  # floor
    remainder = value - quotient * div  # 0 .. div - 1
    half = div >> 1
    up = (remainder > half) | ((remainder == half) & (quotient % 2 == 1))
    return quotient + up.astype(quotient.dtype if quotient.dtype != object else np.int64)


def weight_values(layer: IntegerLayer) -> np.ndarray:
    return layer.codes.astype(np.int64)


def accumulate(layer: IntegerLayer, x: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
    """acc = sum_j q_ij x_j: [B, fan_in] -> [B, out] (linear) or [B, C, H, W] -> [B, O, H', W'] (conv).

    `codes` overrides the layer's codes (TTQ's positive / negative parts, TaWQ's codes of one timestep)."""
    q = weight_values(layer) if codes is None else codes.astype(np.int64)
    if layer.kind == "linear":
        return x.reshape(x.shape[0], -1) @ q.T
    k, p = layer.kernel_size, layer.padding
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))  # [B, C, H', W', k, k]
    return np.einsum("bchwij,ocij->bohw", windows, q, optimize=True)


def pool(spikes: np.ndarray, mode: str | None) -> np.ndarray:
    """2x2 / stride 2 pooling of 0/1 spikes (floor mode): max = OR, avg = the integer sum (0..4)."""
    if mode is None:
        return spikes
    b, c, h, w = spikes.shape
    blocks = spikes[:, :, : h // 2 * 2, : w // 2 * 2].reshape(b, c, h // 2, 2, w // 2, 2).astype(np.int64)
    if mode == "max":
        return blocks.max(axis=(3, 5))
    if mode == "avg":
        return blocks.sum(axis=(3, 5))
    raise ValueError(f"unknown pooling {mode!r}")


def _all_codes(layer: IntegerLayer) -> np.ndarray:
    return layer.codes if layer.codes_per_timestep is None else layer.codes_per_timestep


def max_current(layer: IntegerLayer, max_abs_input: int) -> int:
    """Bound on |I| = |sum_j q_ij x_j M_i| (any weight form) for inputs |x| <= max_abs_input."""
    max_acc = layer.fan_in * int(np.abs(_all_codes(layer).astype(np.int64)).max(initial=0)) * max(max_abs_input, 1)
    return max_acc * int(np.abs(layer.all_multipliers().astype(object)).max(initial=0))


def product_dtype(layer: IntegerLayer, max_abs_input: int, extra: int = 0) -> type | str:
    """int64 when |acc x M| + |membrane term| provably stays below 2^62, else Python ints (object)."""
    return np.int64 if max_current(layer, max_abs_input) + extra < INT64_SAFE else object


def _column(values: np.ndarray, ndim: int, dtype: Any) -> np.ndarray:
    return values.astype(dtype).reshape(-1, *([1] * (ndim - 2)))


def current(layer: IntegerLayer, x: np.ndarray, t: int, dtype: Any) -> np.ndarray:
    """I(t) of every output channel in the layer's H units: M_i acc_i (scaled), M_i acc+_i - Mn_i acc-_i (TTQ),
    M_ti sum_j q_tij x_j (TaWQ)."""
    if layer.weight_form == SIGN_SCALES:
        q = weight_values(layer)
        pos = accumulate(layer, x, np.maximum(q, 0))
        neg = accumulate(layer, x, np.maximum(-q, 0))
        return (pos.astype(dtype) * _column(layer.multiplier, pos.ndim, dtype)
                - neg.astype(dtype) * _column(layer.multiplier_neg, neg.ndim, dtype))
    if layer.weight_form == PER_TIMESTEP:
        acc = accumulate(layer, x, layer.codes_per_timestep[t])
        return acc.astype(dtype) * _column(layer.multiplier_per_timestep[t], acc.ndim, dtype)
    if layer.weight_form != SCALED:
        raise UserError(f"{layer.name}: unknown weight form {layer.weight_form!r}")
    acc = accumulate(layer, x)
    return acc.astype(dtype) * _column(layer.multiplier, acc.ndim, dtype)


class _SpikingState:
    """The membrane of one fixed-point LIF layer and its constant parts."""

    def __init__(self, layer: IntegerLayer, batch: int) -> None:
        if layer.membrane_bits is None or layer.leak_shift is None or layer.threshold_lsb is None:
            raise UserError(f"{layer.name}: a spiking layer needs membrane bits, leak shift and threshold")
        self.layer = layer
        b = layer.membrane_bits
        self.lo, self.hi = -(2 ** (b - 1)), 2 ** (b - 1) - 1
        self.keep = (2**layer.leak_shift - 1) << layer.scale_bits  # (2^k - 1) 2^F
        self.shift = layer.scale_bits + layer.leak_shift
        self.m = np.zeros((batch, *layer.out_shape), dtype=np.int64)

    def extra(self) -> int:
        """Bound on |membrane term| in H."""
        return 2 ** (self.layer.membrane_bits - 1) * self.keep

    def step(self, current_: np.ndarray, t: int, dtype: Any) -> np.ndarray:
        layer = self.layer
        big_h = self.m.astype(dtype) * self.keep + current_.astype(dtype)
        if self.shift > 0:
            self.tie = (big_h % (1 << self.shift)) == (1 << (self.shift - 1))
        else:
            self.tie = np.zeros(big_h.shape, dtype=bool)
        h = round_half_even_shift(big_h, self.shift)
        h = np.clip(h, self.lo, self.hi).astype(np.int64)
        spike = h >= layer.threshold_lsb
        self.m = np.where(spike, 0, h)
        return spike.astype(np.uint8)


class _QSNNState:
    """Q-SNN membrane: state j in [-L, L]; H = j Ma + I; spike iff H >= Theta; else j = -L + #{n: H >= B_n}."""

    def __init__(self, layer: IntegerLayer, batch: int) -> None:
        if layer.membrane_bits is None or layer.leak_multiplier is None or layer.threshold_int is None \
                or layer.level_thresholds is None:
            raise UserError(f"{layer.name}: a Q-SNN layer needs membrane bits, leak multiplier and thresholds")
        self.layer = layer
        self.levels = 2 ** (layer.membrane_bits - 1) - 1
        if layer.level_thresholds.shape != (2 * self.levels,):
            raise UserError(f"{layer.name}: a Q-SNN layer needs {2 * self.levels} level thresholds")
        self.j = np.zeros((batch, *layer.out_shape), dtype=np.int64)

    def extra(self) -> int:
        return self.levels * abs(int(self.layer.leak_multiplier))

    def step(self, current_: np.ndarray, t: int, dtype: Any) -> np.ndarray:
        layer = self.layer
        big_h = self.j.astype(dtype) * int(layer.leak_multiplier) + current_.astype(dtype)
        spike = big_h >= int(layer.threshold_int)
        self.tie = big_h == int(layer.threshold_int)
        thresholds = layer.level_thresholds.astype(dtype)
        level = np.searchsorted(thresholds, big_h.reshape(-1), side="right").reshape(big_h.shape) - self.levels
        self.j = np.where(spike, 0, level).astype(np.int64)
        return spike.astype(np.uint8)


class _MFPState:
    """MFP reset-free integrator: V_t = (2^k - 1) V_{t-1} + 2^(k t) I_t (V_t = 2^(k(t+1)) U_t in H units);
    spike_t iff V_t >= Theta_t."""

    def __init__(self, layer: IntegerLayer, batch: int, timesteps: int) -> None:
        if layer.leak_shift is None or layer.threshold_per_timestep is None:
            raise UserError(f"{layer.name}: an MFP layer needs a leak shift and thresholds per timestep")
        if len(layer.threshold_per_timestep) < timesteps:
            raise UserError(f"{layer.name}: an MFP layer needs {timesteps} thresholds, one per timestep")
        self.layer = layer
        self.k = layer.leak_shift
        self.v = np.zeros((batch, *layer.out_shape), dtype=object)  # grows by k bits a step: Python ints

    def extra(self) -> int:
        return 0

    def step(self, current_: np.ndarray, t: int, dtype: Any) -> np.ndarray:
        self.v = self.v * ((1 << self.k) - 1) + current_.astype(object) * (1 << (self.k * t))
        spike = self.v >= int(self.layer.threshold_per_timestep[t])
        self.tie = self.v == int(self.layer.threshold_per_timestep[t])
        return spike.astype(np.uint8)


def _state(layer: IntegerLayer, batch: int, timesteps: int) -> Any:
    if layer.neuron == LIF:
        return _SpikingState(layer, batch)
    if layer.neuron == QSNN:
        return _QSNNState(layer, batch)
    if layer.neuron == MFP:
        return _MFPState(layer, batch, timesteps)
    raise UserError(f"{layer.name}: unknown neuron {layer.neuron!r}")


def simulate(net: IntegerNetwork, codes: np.ndarray, record_ties: bool = False) -> SimResult:
    """Run the integer network for T timesteps on integer input codes: [B, C, H, W] read at every step
    (static input), or [T, B, C, H, W], one frame per step (event input). record_ties: also return where
    each spiking layer's exact value sat on a rounding or threshold boundary (SimResult.ties)."""
    codes = np.asarray(codes)
    if not np.issubdtype(codes.dtype, np.integer):
        raise UserError("integer simulation needs integer input codes (see input_codes)")
    codes = codes.astype(np.int64)
    per_step = codes.ndim == len(net.input_shape) + 2
    if per_step and codes.shape[0] != net.timesteps:
        raise UserError(f"per-timestep input needs {net.timesteps} frames, got {codes.shape[0]}")
    batch = codes.shape[1] if per_step else codes.shape[0]
    spiking = [layer for layer in net.layers if layer.spiking]
    readout = net.layers[-1]
    if readout.spiking or len(spiking) != len(net.layers) - 1:
        raise UserError("integer simulation expects spiking layers followed by one non-spiking readout")
    states = [_state(layer, batch, net.timesteps) for layer in spiking]
    max_in = [int(np.abs(codes).max(initial=0))] + [4 if layer.pool_after == "avg" else 1 for layer in spiking]
    dtypes = [product_dtype(layer, max_in[i], state.extra()) for i, (layer, state) in enumerate(zip(spiking, states))]
    readout_dtype = product_dtype(readout, max_in[-1] * net.timesteps)

    def layer0_input(frame: np.ndarray) -> np.ndarray:
        return frame if spiking[0].kind == "conv" else frame.reshape(batch, -1)

    static_current = None
    if not per_step and spiking[0].weight_form != PER_TIMESTEP:
        static_current = current(spiking[0], layer0_input(codes), 0, dtypes[0])
    spikes_out: list[list[np.ndarray]] = [[] for _ in spiking]
    ties_out: list[list[np.ndarray]] = [[] for _ in spiking]
    logits = np.zeros((batch, readout.out_channels), dtype=readout_dtype)
    for t in range(net.timesteps):
        x = None
        for i, (layer, state) in enumerate(zip(spiking, states)):
            if i == 0:
                i_t = static_current if static_current is not None else \
                    current(layer, layer0_input(codes[t] if per_step else codes), t, dtypes[0])
            else:
                i_t = current(layer, x, t, dtypes[i])
            s = state.step(i_t, t, dtypes[i])
            spikes_out[i].append(s)
            if record_ties:
                ties_out[i].append(np.asarray(state.tie, dtype=bool))
            x = pool(s, layer.pool_after) if layer.kind == "conv" else s
        logits = logits + current(readout, x.reshape(batch, -1).astype(np.int64), t, readout_dtype)
    predictions = np.array([_argmax_lowest(row) for row in logits], dtype=np.int64)
    ties = [np.stack(t) for t in ties_out] if record_ties else None
    return SimResult([np.stack(s) for s in spikes_out], logits, predictions, ties)


def _argmax_lowest(row: np.ndarray) -> int:
    """Index of the largest value; ties go to the lowest index (works on Python-int object rows)."""
    best = 0
    for i in range(1, len(row)):
        if row[i] > row[best]:
            best = i
    return best


# ---------------------------------------------------------------- comparison with the torch model


def model_spikes(model: Any, x: Any) -> tuple[list[np.ndarray], np.ndarray]:
    """The fake-quantized model's spikes per spiking layer [T, B, ...] and its time-averaged logits [B, classes]."""
    import torch
    from spikingjelly.activation_based import functional

    recorded: list[np.ndarray | None] = [None] * len(model.neurons)
    hooks = []

    def hook(i: int):
        def fn(_module, _inputs, output):
            recorded[i] = output.detach().cpu().numpy().astype(np.uint8)
        return fn

    for i, neuron in enumerate(model.neurons):
        hooks.append(neuron.register_forward_hook(hook(i)))
    model.eval()
    try:
        with torch.no_grad():
            functional.reset_net(model)
            dtype = next(model.parameters()).dtype
            logits = model(x.to(dtype)).mean(0).cpu().numpy()
            functional.reset_net(model)
    finally:
        for h in hooks:
            h.remove()
    return [r for r in recorded if r is not None], logits


def model_input_steps(model: Any, x: Any) -> Any:
    """What layer 0 reads: the static batch itself, or for event input its frames re-binned to T [T, B, ...]."""
    if getattr(model.candidate, "input_kind", "static") != "events":
        return x
    import torch

    from dse.training.datasets.frames import rebin_frames

    return rebin_frames(x.transpose(0, 1), model.candidate.timesteps, torch.float64)


@dataclass
class Agreement:
    """How closely the integer simulation follows the model on one batch."""

    spikes_total: int
    spikes_differing: int
    per_layer_differing: list[int]
    predictions_equal: int  # the model's class is one of the integer logits' largest (ties count as agreement)
    samples: int
    tied_samples: int  # samples whose largest integer logit is shared by several classes

    @property
    def spike_agreement(self) -> float:
        return 1.0 - self.spikes_differing / max(self.spikes_total, 1)

    @property
    def prediction_agreement(self) -> float:
        return self.predictions_equal / max(self.samples, 1)


def agreement(model: Any, net: IntegerNetwork, x: Any) -> Agreement:
    """Spike-by-spike and prediction agreement of simulate(net) with the model on the batch x."""
    model_out, logits = model_spikes(model, x)
    sim = simulate(net, input_codes(model_input_steps(model, x), net.input_step))
    diffs = [int((a != b).sum()) for a, b in zip(model_out, sim.spikes)]
    total = int(sum(a.size for a in model_out))
    equal = ties = 0
    for row, predicted in zip(sim.logits, logits.argmax(1)):
        best = max(row)
        winners = [i for i, v in enumerate(row) if v == best]
        equal += int(predicted) in winners
        ties += len(winners) > 1
    return Agreement(total, sum(diffs), diffs, equal, int(logits.shape[0]), ties)
