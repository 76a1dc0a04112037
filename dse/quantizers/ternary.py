"""`ternary`: ternary quantization of SNNs (Wu, ..., S.-Q. Zhang; Front. Comput. Sci. 21(2):2102326).

What the sources show. The only readable source is the abstract and keyword list on the journal's
page (journal.hep.com.cn/fcs/EN/10.1007/s11704-025-51519-1): "two quantization training algorithms
that apply ternary quantization to synaptic weights and a regularizer for enhancing both accuracy
improvement and uncertainty reduction of ternary SNNs", compatible with any surrogate-gradient SNN;
keywords "ternary quantization / surrogate gradients / ternarization-aware distillation /
uncertainty reduction". The abstract NAMES NEITHER ALGORITHM and gives no formula; the method text
and any code could not be found (searched: the stored web pages, documentation, GitHub code and
issue indexes for the title, the authors, "ternarization-aware distillation"). Reading of the
abstract (ours): the keywords list no regulariser other than ternarization-aware distillation, so
the "regularizer for accuracy and uncertainty" is most likely that distillation term. Everything
below is therefore a PROPOSAL:

- Option `algorithm` (our names, after the classic methods implemented; not the paper's):
  - `twn` (Ternary Weight Networks, Li et al. 2016): per layer Delta = 0.7 mean|W|,
    alpha = mean of |W| over |W| > Delta, W_t = alpha sign(W) [|W| > Delta]; Delta and alpha are
    computed from the detached weights; clipped straight-through estimator (gradient 1 where
    |W| <= 1, else 0, BinaryConnect's clip).
  - `ttq` (Trained Ternary Quantization, Zhu et al. 2017): per layer Delta = 0.05 max|W|,
    W_t = W_p [W > Delta] - W_n [W < -Delta] with learned positive scales W_p, W_n (initialised
    to the TWN alpha of the first weights seen); latent gradient W_p g on the positive part,
    g on the zero part, W_n g on the negative part (TTQ's rule); the scales get the summed
    gradients of their parts. Option `scales`: `direct` (default) learns the scales themselves, as
    TTQ's paper; `log` (PROPOSAL) learns them as logarithms, which keeps them positive as TTQ
    defines them (TTQWeightQuantizer says what each did in the benchmark).
- Option `distill` (false | true): ternarization-aware distillation from a full-precision SNN
  teacher of the SAME architecture and T (all weight and membrane bits None, quantizer
  `uniform`), trained by dse.training.train's recipe at the trial's fidelity with a fixed seed, once per
  architecture, T, data set and fidelity, and cached in this module for the rest of the process.
  Loss added to the cross-entropy: lambda tau^2 KL(p_teacher^tau || p_student^tau) on the
  time-averaged logits, lambda = 1, tau = 4; nothing is added when distill is false.
  The teacher's training time is charged to the trial that trains it: prepare() records it in
  `teacher_seconds` (0 on a cache hit, then `teacher_cache_hit` is True), dse.training.train
  counts it in the trial's train_seconds and TrainResult.teacher_seconds, and the search stores
  both as trial user attributes. A teacher cached by an earlier trial of the same process costs
  the later trials nothing, and they say so.
- A separate uncertainty regulariser is not implemented: no formula for one could be found (the
  abstract gives none; see above). ECE (15 equal bins over the top-class confidence) is measured
  for every trial of every type by dse.training.train.measure and stored as the trial's user
  attribute "ece".
- Weight bits: 2 only (three levels); one scale per layer (TWN alpha, or TTQ's W_p and W_n).
  Membranes use the project's fixed-point LIF neuron (dse/training/neurons.py).
"""

from __future__ import annotations

import dataclasses
import time
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



@dataclasses.dataclass(frozen=True)
class Teacher:
    """A trained full-precision teacher, what training it took, and whether this call trained it."""

    model: nn.Module
    accuracy: float
    train_seconds: float  # wall time its training took, when it was trained
    cache_hit: bool  # True: fetched from the process cache, trained by an earlier call


# (architecture, T, data, fidelity, device) -> Teacher (cache_hit False: as trained)
_TEACHERS: "OrderedDict[tuple, Teacher]" = OrderedDict()


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


TTQ_SCALE_MODES = ("direct", "log")  # option `scales`


class TTQWeightQuantizer(nn.Module):
    """Ternary weights {-W_n, 0, +W_p} with learned per-layer scales and TTQ's gradients.

    Option `scales`: `direct` (default) learns W itself, as TTQ's paper; `log` (PROPOSAL) learns each
    scale as a logarithm, W = exp(s), which keeps it positive as TTQ defines it. Measured
    (docs/quantizers.md, Benchmark): direct, under Adam at lr 1e-2, a scale of a few hundredths moves
    by about 0.01 a step, and W_p went negative in the first epoch of 15 of 30 digits-dvs MLP runs,
    which turned every hidden weight negative and left the layer silent for good; log never
    collapsed but, moving by about 1 % a step, grows the scales more slowly and trained the conv
    nets 4.5-9.3 points lower.
    A checkpoint stored before the option (parameters w_p, w_n) loads exactly in either mode."""

    def __init__(self, scales: str = "direct") -> None:
        super().__init__()
        if scales not in TTQ_SCALE_MODES:
            raise ValueError(f"unknown scales {scales!r}; accepted: {', '.join(TTQ_SCALE_MODES)}")
        self.scales = scales
        # log: s = log|W|, the sign in sign_p / sign_n (+1 but for a loaded negative scale); direct: s = W
        self.scale_p = nn.Parameter(torch.zeros(()))
        self.scale_n = nn.Parameter(torch.zeros(()))
        self.register_buffer("sign_p", torch.ones(()))
        self.register_buffer("sign_n", torch.ones(()))
        # a buffer, not a Python flag, so a loaded state dict is not re-initialised on first use
        self.register_buffer("initialised", torch.tensor(False))

    def extra_repr(self) -> str:
        return f"bits=2, algorithm=ttq, scales={self.scales}"

    def _value(self, name: str) -> torch.Tensor:
        stored = getattr(self, f"scale_{name}")
        return stored if self.scales == "direct" else getattr(self, f"sign_{name}") * torch.exp(stored)

    @property
    def w_p(self) -> torch.Tensor:
        return self._value("p")

    @property
    def w_n(self) -> torch.Tensor:
        return self._value("n")

    def _stored(self, value: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """(parameter, sign) that give the scale `value` in this mode."""
        value = torch.as_tensor(value, dtype=self.scale_p.dtype)
        if self.scales == "direct":
            return value, torch.ones_like(value)
        return torch.log(value.abs().clamp(min=1e-30)), torch.where(value < 0, -1.0, 1.0).to(value.dtype)

    def set_scales(self, w_p: float, w_n: float) -> None:
        """Set the two scales (the first forward's TWN alpha, tests; nonzero in log mode, the sign in the buffer)."""
        with torch.no_grad():
            for name, value in (("p", w_p), ("n", w_n)):
                stored, sign = self._stored(value)
                getattr(self, f"scale_{name}").copy_(stored)
                getattr(self, f"sign_{name}").copy_(sign)
            self.initialised.fill_(True)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        # a checkpoint stored before the option holds the scales themselves as w_p and w_n
        for name in ("p", "n"):
            direct = state_dict.pop(prefix + f"w_{name}", None)
            if direct is not None:
                state_dict[prefix + f"scale_{name}"], state_dict[prefix + f"sign_{name}"] = self._stored(direct)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    def _init_scales(self, weight: torch.Tensor) -> None:
        if not bool(self.initialised):
            _, alpha = twn_threshold_scale(weight)
            self.set_scales(float(alpha), float(alpha))

    @staticmethod
    def masks(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = weight.detach()
        delta = TTQ_DELTA * w.abs().max()
        return (w > delta).to(weight.dtype), (w < -delta).to(weight.dtype)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        self._init_scales(weight)
        pos, neg = self.masks(weight)
        w_p, w_n = self.w_p, self.w_n
        quantized = w_p * pos - w_n * neg  # gradients to the scales
        zero = 1.0 - pos - neg
        factor = w_p.detach() * pos + zero + w_n.detach() * neg
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


def fetch_teacher(candidate: Any, data: Any, fidelity: Any, device: torch.device) -> Teacher:
    """A trained full-precision teacher for this architecture and T: from the cache (cache_hit True),
    or trained now (train_seconds: the wall time it took, building and training included)."""
    from dse.training.train import train_candidate  # lazy: dse.training.train imports the model, which imports this package

    key = _teacher_key(candidate, data, fidelity, device)
    if key in _TEACHERS:
        _TEACHERS.move_to_end(key)
        return dataclasses.replace(_TEACHERS[key], cache_hit=True)
    start = time.perf_counter()
    result = train_candidate(teacher_candidate(candidate), data, fidelity, seed=TEACHER_SEED, device=device)
    teacher = result.model
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    entry = Teacher(teacher, result.accuracy, time.perf_counter() - start, cache_hit=False)
    _TEACHERS[key] = entry
    while len(_TEACHERS) > TEACHER_CACHE_SIZE:
        _TEACHERS.popitem(last=False)
    return entry


def get_teacher(candidate: Any, data: Any, fidelity: Any, device: torch.device) -> tuple[nn.Module, float]:
    """The teacher model and its validation accuracy (fetch_teacher without the timing)."""
    teacher = fetch_teacher(candidate, data, fidelity, device)
    return teacher.model, teacher.accuracy


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
            return TTQWeightQuantizer(ctx.options.get("scales", "direct"))
        raise ValueError(f"quantizer 'ternary' option 'algorithm' cannot be {algorithm!r}; accepted: twn, ttq")

    def neuron(self, membrane_bits: int | None, ctx: LayerContext, tau: float, v_threshold: float) -> nn.Module:
        return FixedPointLIFNode(membrane_bits, tau=tau, v_threshold=v_threshold)

    def prepare(self, candidate: Any, data: Any, fidelity: Any, device: torch.device) -> None:
        """Fetch or train the teacher (distill: true) and record what it cost this trial."""
        options = self.profile.check_options(candidate.quantizer_options)
        if options["distill"]:
            fetched = fetch_teacher(candidate, data, fidelity, device)
            self.teacher, self.teacher_accuracy = fetched.model, fetched.accuracy
            self.teacher_seconds = 0.0 if fetched.cache_hit else fetched.train_seconds
            self.teacher_cache_hit = fetched.cache_hit
        else:
            self.teacher, self.teacher_accuracy = None, None
            self.teacher_seconds, self.teacher_cache_hit = 0.0, None

    def loss_terms(self, model, logits_seq, targets, inputs):
        if self.teacher is None:
            return None
        with torch.no_grad():
            functional.reset_net(self.teacher)
            teacher_logits = self.teacher(inputs).mean(0)
            functional.reset_net(self.teacher)
        return DISTILL_LAMBDA * distillation_loss(logits_seq.mean(0), teacher_logits)
