"""`ternary`: ternary quantization of SNNs (Wu, ..., S.-Q. Zhang; Front. Comput. Sci. 21(2):2102326).

The paper's claim: two ternary training algorithms for synaptic weights, a regulariser for
accuracy and uncertainty, and ternarization-aware distillation, for any surrogate-gradient SNN;
uncertainty is reported as expected calibration error (ECE). No public code or method text was
found, so the algorithms below are PROPOSALS built from the two classic ternary methods the
claim names, and from standard knowledge distillation:

- Option `algorithm`:
  - `twn` (Ternary Weight Networks, Li et al. 2016): per layer Delta = 0.7 mean|W|,
    alpha = mean of |W| over |W| > Delta, W_t = alpha sign(W) [|W| > Delta]; Delta and alpha are
    computed from the detached weights; clipped straight-through estimator (gradient 1 where
    |W| <= 1, else 0, BinaryConnect's clip).
  - `ttq` (Trained Ternary Quantization, Zhu et al. 2017): per layer Delta = 0.05 max|W|,
    W_t = W_p [W > Delta] - W_n [W < -Delta] with learned positive scales W_p, W_n (initialised
    to the TWN alpha of the first weights seen); latent gradient W_p g on the positive part,
    g on the zero part, W_n g on the negative part (TTQ's rule); the scales get the summed
    gradients of their parts.
- Option `distill` (false | true): ternarization-aware distillation from a full-precision SNN
  teacher of the SAME architecture and T (all weight and membrane bits None, quantizer
  `uniform`), trained by dse.training.train's recipe at the trial's fidelity with a fixed seed, once per
  architecture, T, data set and fidelity, and cached in this module for the rest of the process.
  Loss added to the cross-entropy: lambda tau^2 KL(p_teacher^tau || p_student^tau) on the
  time-averaged logits, lambda = 1, tau = 4; nothing is added when distill is false.
- The paper's uncertainty regulariser is not implemented (its form is not known). ECE (15 equal
  bins over the top-class confidence) is measured for every trial of every type by
  dse.training.train.measure and stored as the trial's user attribute "ece".
- Weight bits: 2 only (three levels); one scale per layer (TWN alpha, or TTQ's W_p and W_n).
  Membranes use the project's fixed-point LIF neuron (dse/neurons.py).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional
from torch import nn

from dse.training.neurons import FixedPointLIFNode
from dse.quantizers._base import LayerContext, QuantizerType

TWN_DELTA = 0.7  # Delta = 0.7 mean|W|
TTQ_DELTA = 0.05  # Delta = 0.05 max|W|
STE_CLIP = 1.0
DISTILL_LAMBDA = 1.0
DISTILL_TAU = 4.0
TEACHER_SEED = 0
TEACHER_CACHE_SIZE = 32

# (architecture, T, data, fidelity, device) -> (teacher model, teacher validation accuracy)
_TEACHERS: "OrderedDict[tuple, tuple[nn.Module, float]]" = OrderedDict()


def clipped_ste(weight: torch.Tensor, quantized: torch.Tensor) -> torch.Tensor:
    """quantized forward (exactly: the gradient path adds p - p = 0); gradient 1 where |w| <= STE_CLIP."""
    mask = (weight.detach().abs() <= STE_CLIP).to(weight.dtype)
    passthrough = weight * mask
    return quantized.detach() + (passthrough - passthrough.detach())


def twn_threshold_scale(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """TWN's Delta = 0.7 mean|W| and alpha = mean |W| over |W| > Delta (detached, per layer)."""
    w = weight.detach().abs()
    delta = TWN_DELTA * w.mean()
    above = w > delta
    alpha = w[above].mean() if bool(above.any()) else w.mean()
    return delta, alpha.clamp(min=1e-8)


class TWNWeightQuantizer(nn.Module):
    """Ternary weights alpha {-1, 0, +1} with TWN's threshold and scale, clipped STE."""

    def extra_repr(self) -> str:
        return "bits=2, algorithm=twn"

    def codes(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        delta, alpha = twn_threshold_scale(weight)
        w = weight.detach()
        return ((w > delta).to(torch.int32) - (w < -delta).to(torch.int32)), alpha

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        delta, alpha = twn_threshold_scale(weight)
        ternary = (weight.detach() > delta).to(weight.dtype) - (weight.detach() < -delta).to(weight.dtype)
        return clipped_ste(weight, alpha * ternary)


class TTQWeightQuantizer(nn.Module):
    """Ternary weights {-W_n, 0, +W_p} with learned per-layer scales and TTQ's gradients."""

    def __init__(self) -> None:
        super().__init__()
        self.w_p = nn.Parameter(torch.ones(()))
        self.w_n = nn.Parameter(torch.ones(()))
        # a buffer, not a Python flag, so a loaded state dict is not re-initialised on first use
        self.register_buffer("initialised", torch.tensor(False))

    def extra_repr(self) -> str:
        return "bits=2, algorithm=ttq"

    def _init_scales(self, weight: torch.Tensor) -> None:
        if not bool(self.initialised):
            _, alpha = twn_threshold_scale(weight)
            with torch.no_grad():
                self.w_p.copy_(alpha)
                self.w_n.copy_(alpha)
                self.initialised.fill_(True)

    @staticmethod
    def masks(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = weight.detach()
        delta = TTQ_DELTA * w.abs().max()
        return (w > delta).to(weight.dtype), (w < -delta).to(weight.dtype)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        self._init_scales(weight)
        pos, neg = self.masks(weight)
        quantized = self.w_p * pos - self.w_n * neg  # gradients to W_p and W_n
        zero = 1.0 - pos - neg
        factor = self.w_p.detach() * pos + zero + self.w_n.detach() * neg
        scaled = weight * factor  # d/dW = factor: TTQ's latent gradient
        return quantized + (scaled - scaled.detach())


def _teacher_key(candidate: Any, data: Any, fidelity: Any, device: torch.device) -> tuple:
    c = candidate
    arch = (c.family, c.widths, c.pooling, c.input_shape, c.num_classes, c.kernel_size, c.tau, c.v_threshold)
    train = data.train
    data_key = (data.name, len(train), round(float(train.x.sum()), 3), int(train.y.sum()))
    return (arch, c.timesteps, data_key, dataclasses.astuple(fidelity), str(device))


def teacher_candidate(candidate: Any) -> Any:
    """The full-precision `uniform` candidate of the same architecture and T."""
    return dataclasses.replace(
        candidate,
        weight_bits=(None,) * candidate.n_weight_layers,
        membrane_bits=(None,) * candidate.n_spiking_layers,
        quantizer="uniform",
        quantizer_options={},
    )


def get_teacher(candidate: Any, data: Any, fidelity: Any, device: torch.device) -> tuple[nn.Module, float]:
    """A trained full-precision teacher for this architecture and T: from the cache, or trained now."""
    from dse.training.train import train_candidate  # lazy: dse.training.train imports the model, which imports this package

    key = _teacher_key(candidate, data, fidelity, device)
    if key in _TEACHERS:
        _TEACHERS.move_to_end(key)
        return _TEACHERS[key]
    result = train_candidate(teacher_candidate(candidate), data, fidelity, seed=TEACHER_SEED, device=device)
    teacher = result.model
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    _TEACHERS[key] = (teacher, result.accuracy)
    while len(_TEACHERS) > TEACHER_CACHE_SIZE:
        _TEACHERS.popitem(last=False)
    return teacher, result.accuracy


def clear_teacher_cache() -> None:
    _TEACHERS.clear()


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tau: float = DISTILL_TAU) -> torch.Tensor:
    """tau^2 KL(p_teacher^tau || p_student^tau), batch mean, on [B, classes] logits."""
    log_p_s = F.log_softmax(student_logits / tau, dim=1)
    log_p_t = F.log_softmax(teacher_logits / tau, dim=1)
    return tau * tau * F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)


class TernaryQuantizer(QuantizerType):
    """TWN or TTQ ternary weights, optional distillation from a cached full-precision teacher."""

    name = "ternary"

    def __init__(self) -> None:
        self.teacher: nn.Module | None = None
        self.teacher_accuracy: float | None = None

    def weight_quantizer(self, bits: int | None, ctx: LayerContext) -> nn.Module:
        if bits is None:
            return nn.Identity()
        if bits != 2:
            raise ValueError(f"quantizer 'ternary' cannot take weight bits {bits}; accepted: 2")
        algorithm = ctx.options.get("algorithm", "twn")
        if algorithm == "twn":
            return TWNWeightQuantizer()
        if algorithm == "ttq":
            return TTQWeightQuantizer()
        raise ValueError(f"quantizer 'ternary' option 'algorithm' cannot be {algorithm!r}; accepted: twn, ttq")

    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        return FixedPointLIFNode(membrane_bits, tau=tau, v_threshold=v_threshold)

    def prepare(self, candidate: Any, data: Any, fidelity: Any, device: torch.device) -> None:
        options = self.profile.check_options(candidate.quantizer_options)
        if options["distill"]:
            self.teacher, self.teacher_accuracy = get_teacher(candidate, data, fidelity, device)
        else:
            self.teacher, self.teacher_accuracy = None, None

    def loss_terms(self, model, logits_seq, targets, inputs):
        if self.teacher is None:
            return None
        with torch.no_grad():
            functional.reset_net(self.teacher)
            teacher_logits = self.teacher(inputs).mean(0)
            functional.reset_net(self.teacher)
        return DISTILL_LAMBDA * distillation_loss(logits_seq.mean(0), teacher_logits)
