"""Fidelity of the methods to their papers and authors' code (issue 15, items 1 to 6): Q-SNN's spike-rate
regulariser runs on the project's shallow nets and trains on the per-timestep cross-entropy; MFP's
sequential twin integrates the same membrane as its parallel form; TaWQ's 8-bit edge layers and
per-channel affine reach the cost model, the integer export and the search, and the shift that has no
integer form is refused; the distillation teacher's training time is charged to the run that trains
it; the sum-of-sigmoids gradient is never zeroed by the clamp and its temperature reaches the cap at the
last epoch of any schedule; the cost model's effective ACs count only events that meet a nonzero
weight."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import optuna
import pytest
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional

from cost_models.activity import Activity, LayerActivity
from cost_models.network import PER_TIMESTEP, SCALED, layer_specs
from cost_models.ops import count_acs, count_effective_acs
from cost_models.report import CostReport, evaluate
from dse.errors import UserError
from dse.export.integer_network import integer_network
from dse.export.integer_sim import agreement
from dse.hardware.verilog_template import template_refusal
from dse.quantizers import LayerContext, get_quantizer
from dse.quantizers import ternary as ternary_mod
from dse.quantizers.mfp import ParallelResetFreeNeuron, SequentialResetFreeNeuron
from dse.quantizers.qsnn import RATE_LAMBDA, QSNNBinaryWeight, QSNNLIFNode, rate_layers
from dse.quantizers.sigmoid import ARG_CLAMP, T_CAP, SigmoidWeightQuantizer, annealed_temperature
from dse.quantizers.tawq import TaWQShiftedLIFNode, TaWQWeightQuantizer
from dse.quantizers.uniform import UniformWeightQuantizer
from dse.training.data import Split
from dse.training.model import build_model
from dse.training.train import Fidelity, measure, nonzero_weights
from search_spaces.candidate import Candidate
from search_spaces.candidate_file import CandidateFileError, read_candidate_file
from search_spaces.quantizer_types import get_profile
from search_spaces.space import SearchSpace, SpaceError


def qsnn_candidate(widths=(16,), **options) -> Candidate:
    n = len(widths) + 1
    bits = tuple(8 if i in (0, n - 1) else 1 for i in range(n))
    return Candidate(
        family="mlp", widths=widths, weight_bits=bits, membrane_bits=(4,) * len(widths), timesteps=3,
        quantizer="qsnn", quantizer_options=options,
    )


# --------------------------------------------------------------------------- Q-SNN (item 1)


def test_qsnn_rate_term_changes_the_loss_of_a_one_hidden_layer_net():
    torch.manual_seed(0)
    model = build_model(qsnn_candidate((16,)))
    model.train()
    x, y = torch.rand(8, 1, 8, 8) * 4, torch.randint(0, 10, (8,))
    logits = model(x)
    qtype = model.quantizer_type
    without = qtype.classification_loss(logits, y)
    extra = qtype.loss_terms(model, logits, y, x)
    assert extra is not None  # before issue 15 the 1-hidden-layer net had no rate term
    with_term = without + extra
    (rate,) = [n.last_rate for n in model.neurons]
    assert float(extra.detach()) == pytest.approx(RATE_LAMBDA * float((rate.detach() - 0.5) ** 2))
    assert float(with_term.detach()) != float(without.detach())
    assert float(extra.detach()) > 0  # the rate of a fresh net is not exactly 0.5
    # the term has a gradient into the hidden layer's weights
    grad = torch.autograd.grad(extra, model.weight_layers[0].weight)[0]
    assert grad.abs().sum() > 0
    functional.reset_net(model)


@pytest.mark.parametrize("widths, regularised", [((16,), [0]), ((16, 16), [0, 1]), ((16, 16, 16), [1]), ((8, 8, 8, 8), [1, 2])])
def test_qsnn_rate_layers_follow_the_authors_slice_when_it_leaves_a_layer(widths, regularised):
    model = build_model(qsnn_candidate(widths))
    chosen = rate_layers(model)
    assert all(isinstance(n, QSNNLIFNode) for n in chosen)
    assert [list(model.neurons).index(n) for n in chosen] == regularised
    assert len(rate_layers(build_model(qsnn_candidate(widths, rate_layers="all")))) == len(widths)


def test_qsnn_trains_on_the_per_timestep_cross_entropy():
    torch.manual_seed(1)
    model = build_model(qsnn_candidate((16,)))
    logits, y = torch.randn(3, 5, 10), torch.randint(0, 10, (5,))
    expected = sum(F.cross_entropy(logits[t], y) for t in range(3)) / 3
    assert torch.allclose(model.quantizer_type.classification_loss(logits, y), expected)
    # the other types keep the cross-entropy of the time-averaged readout
    other = build_model(Candidate(family="mlp", widths=(16,), weight_bits=(2, 2), membrane_bits=(8,), timesteps=3))
    assert torch.allclose(other.quantizer_type.classification_loss(logits, y), F.cross_entropy(logits.mean(0), y))
    assert not torch.allclose(expected, F.cross_entropy(logits.mean(0), y))


def _spread_hidden_gain(model, channels: int = 12):
    """Layer 1's quantizer (default `affine: scale`) with its learned gain spread over exp(+-0.5), and that
    layer's weight, codes and scales (the gain tests of Q-SNN and TaWQ)."""
    q = model.weight_layers[1].quantizer
    assert q.affine == "scale" and q.log_gain.shape == (channels,)
    with torch.no_grad():
        q.log_gain.copy_(torch.linspace(-0.5, 0.5, channels))
    weight = model.weight_layers[1].weight
    codes, scale = q.codes(weight)
    return q, weight, codes, scale


def test_qsnn_gain_is_learned_and_folds_into_the_channel_multiplier():
    """`affine: scale` (the default): the binary layer's scale is s_c exp(l_c) / sqrt(fan_in), learned,
    and the integer export carries it per channel so the integer run equals the model."""
    torch.manual_seed(0)
    model = build_model(qsnn_candidate((16, 12, 10)))  # layers 1 and 2 binary
    q, weight, codes, scale = _spread_hidden_gain(model)
    plain_codes, shift = QSNNBinaryWeight().codes(weight)  # the authors' power-of-two scale alone
    assert torch.equal(codes, plain_codes)
    gain = torch.exp(q.log_gain.detach()) / math.sqrt(16)
    assert torch.allclose(scale.flatten(), shift.flatten() * gain)
    assert torch.allclose(q(weight).detach(), codes.float() * scale)
    model.train()
    model(torch.rand(4, 1, 8, 8) * 4).sum().backward()
    assert q.log_gain.grad is not None and q.log_gain.grad.abs().sum() > 0
    functional.reset_net(model)
    model = model.double().eval()
    net = integer_network(model, 0.25, 32)
    assert np.allclose(net.layers[1].scale, scale.double().flatten().numpy(), rtol=1e-6)
    x = torch.randint(0, 17, (32, 1, 8, 8)).double() * 0.25
    result = agreement(model, net, x)
    assert result.predictions_equal == result.samples and result.spikes_differing == 0


def test_qsnn_gain_keeps_a_wide_binary_layer_current_at_a_unit_scale():
    """Why the gain exists: +-s_c weights (s_c about 1) summed over 128 active inputs give currents of many
    thresholds; with the gain the current starts at about one."""
    torch.manual_seed(0)
    weight = torch.randn(64, 128)
    spikes = (torch.rand(256, 128) < 0.4).float()
    plain = spikes @ QSNNBinaryWeight()(weight).T
    gained = spikes @ QSNNBinaryWeight("scale", 64)(weight).detach().T
    assert float(plain.std()) > 5 and 0.3 < float(gained.std()) < 1.5


def test_qsnn_checkpoint_from_before_the_gain_loads_as_it_was_trained():
    torch.manual_seed(0)
    old = build_model(qsnn_candidate((16, 12), affine="none"))
    state = old.state_dict()
    assert not any(key.endswith("log_gain") for key in state)
    new = build_model(qsnn_candidate((16, 12)))
    assert new.weight_layers[1].quantizer.log_gain is not None
    new.load_state_dict(state, strict=True)
    assert new.weight_layers[1].quantizer.affine == "none" and new.weight_layers[1].quantizer.log_gain is None
    x = torch.rand(4, 1, 8, 8) * 4
    assert torch.equal(old.eval()(x), new.eval()(x))


def test_qsnn_refuses_an_unknown_affine_in_one_line(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("families:\n  mlp:\n    depth: [2]\n    widths: [16]\nweight_bits: [1, 8]\nmembrane_bits: [4]\n"
                    "timesteps: [2]\nquantizers:\n  qsnn: {affine: [shift]}\n")
    with pytest.raises(SpaceError) as err:
        SearchSpace.load(str(path))
    message = str(err.value)
    assert "\n" not in message and "'qsnn'" in message and "accepted: scale, none" in message


# --------------------------------------------------------------------------- MFP (item 2)


@pytest.mark.parametrize("timesteps", [1, 4, 16])
def test_mfp_sequential_twin_integrates_the_same_membrane(timesteps):
    """The benchmark's sequential side (benchmarks/bench_mfp_parallel.py) is the same neuron, step by step."""
    torch.manual_seed(timesteps)
    current = torch.randn(timesteps, 5, 9) * 2
    parallel, sequential = ParallelResetFreeNeuron(tau=4.0), SequentialResetFreeNeuron(tau=4.0)
    assert torch.allclose(parallel.membrane(current), sequential.membrane(current), atol=1e-6)
    lam, u = 0.75, torch.zeros_like(current[0])
    for t in range(timesteps):  # by hand: u_t = lambda u_{t-1} + I_t / tau
        u = lam * u + current[t] / 4.0
        assert torch.allclose(sequential.membrane(current)[t], u, atol=1e-6)


# --------------------------------------------------------------------------- TaWQ (item 3)


def tawq_candidate(widths=(16,), **options) -> Candidate:
    profile = get_profile("tawq")
    merged = profile.check_options(options)
    n = len(widths) + 1
    bits = tuple(profile.layer_weight_bits(i, n, options=merged)[0] for i in range(n))
    return Candidate(family="mlp", widths=widths, weight_bits=bits, membrane_bits=(6,) * len(widths), timesteps=3,
                     quantizer="tawq", quantizer_options=options)


def test_tawq_edge_layers_are_8_bit_by_default_and_every_consumer_follows():
    cand = tawq_candidate((16, 12))
    assert cand.weight_bits == (8, 2, 8)
    torch.manual_seed(0)
    model = build_model(cand)
    kinds = [type(layer.quantizer) for layer in model.weight_layers]
    assert kinds == [UniformWeightQuantizer, TaWQWeightQuantizer, UniformWeightQuantizer]
    model.eval()
    w = [layer.quantized_weight().detach() for layer in model.weight_layers]
    assert w[0].shape == model.weight_layers[0].weight.shape  # one weight set
    assert w[1].shape == (3, 12, 16)  # one ternary set per timestep
    assert len(torch.unique(w[0][0])) > 3  # more than ternary: 8-bit levels (max|w| / 127 per channel)
    specs = layer_specs(cand)
    assert [(s.weight_form, s.weight_sets) for s in specs] == [(SCALED, 1), (PER_TIMESTEP, 3), (SCALED, 1)]
    assert [s.weight_storage_bits for s in specs] == [8, 6, 8]
    net = integer_network(model, 0.25, 32)
    assert [layer.weight_form for layer in net.layers] == [SCALED, PER_TIMESTEP, SCALED]
    assert [layer.weight_bits for layer in net.layers] == [8, 2, 8]
    # edge_bits 2: every layer ternary per timestep, as before issue 15
    off = tawq_candidate((16, 12), edge_bits=2)
    assert off.weight_bits == (2, 2, 2)
    assert {s.weight_form for s in layer_specs(off)} == {PER_TIMESTEP}
    assert all(isinstance(layer.quantizer, TaWQWeightQuantizer) for layer in build_model(off).weight_layers)


def test_tawq_search_and_candidate_files_pin_the_edges_to_the_option(tmp_path):
    space_file = tmp_path / "space.yaml"
    space_file.write_text("families:\n  mlp: {depth: [1, 2, 3], widths: [16]}\nweight_bits: [1, 2, 4, 8]\n"
                          "membrane_bits: [8]\ntimesteps: [2]\nquantizers:\n  tawq: {edge_bits: [8, 2]}\n")
    space = SearchSpace.load(str(space_file))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(20):
        trial = study.ask()
        cand = space.suggest(trial, (1, 8, 8), 10)
        edge = cand.quantizer_options["edge_bits"]
        seen.add(edge)
        assert cand.weight_bits[0] == cand.weight_bits[-1] == edge
        assert all(b == 2 for b in cand.weight_bits[1:-1])
        assert "tawq_wbits_0" not in trial.params  # a pinned edge is no Optuna parameter
        study.tell(trial, 0.0)
    assert seen == {8, 2}
    base = "family: mlp\nwidths: [16]\nmembrane_bits: [8]\ntimesteps: 2\nquantizer: tawq\n"
    (tmp_path / "ok.yaml").write_text(base + "weight_bits: [2, 2]\nquantizer_options: {edge_bits: 2}\n")
    assert read_candidate_file(tmp_path / "ok.yaml").weight_bits == (2, 2)
    (tmp_path / "edge.yaml").write_text(base + "weight_bits: [2, 2]\n")
    with pytest.raises(CandidateFileError, match=r"cannot take 2 bits here; accepted: 8 .*edge_bits") as err:
        read_candidate_file(tmp_path / "edge.yaml")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("options, fragment", [
    ({"edge_bits": 4}, "option 'edge_bits' cannot be 4; accepted: 8, 2"),
    ({"affine": "batchnorm"}, "option 'affine' cannot be 'batchnorm'; accepted: scale, none, scale_shift"),
    ({"edges": 8}, "has no option 'edges'; accepted: affine, edge_bits, scale"),
])
def test_tawq_refuses_bad_options_in_one_line(tmp_path, options, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)) as err:
        get_profile("tawq").check_options(options)
    assert "\n" not in str(err.value)
    (key, value), = options.items()
    space_file = tmp_path / "space.yaml"
    space_file.write_text("families:\n  mlp: {depth: [1], widths: [16]}\nweight_bits: [2, 8]\nmembrane_bits: [8]\n"
                          f"timesteps: [2]\nquantizers:\n  tawq: {{{key}: [{value}]}}\n")
    with pytest.raises(SpaceError, match=re.escape(fragment)):
        SearchSpace.load(str(space_file))
    with pytest.raises(ValueError, match="cannot take weight bits 4; accepted: 2 .*8"):
        get_quantizer("tawq").weight_quantizer(4, LayerContext(1, 3, 6, 3))


def test_tawq_affine_gain_is_learned_and_folds_into_the_multiplier():
    torch.manual_seed(0)
    model = build_model(tawq_candidate((16, 12)))  # default affine: scale
    q, weight, codes, scale = _spread_hidden_gain(model)
    plain = TaWQWeightQuantizer(3, "paper", "none")
    codes_plain, scale_plain = plain.codes(weight)
    gain = torch.exp(q.log_gain.detach()) / math.sqrt(16)  # g_0 = 1 / sqrt(fan_in) with the paper's scale
    assert torch.equal(codes, codes_plain)
    assert torch.allclose(scale, scale_plain * gain.view(1, 12, 1))
    assert torch.allclose(q(weight).detach(), codes.float() * scale)
    # the gain is a parameter the task loss trains
    model.train()
    model(torch.rand(4, 1, 8, 8) * 4).sum().backward()
    assert q.log_gain.grad is not None and q.log_gain.grad.abs().sum() > 0
    assert not [p for p in plain.parameters()]  # affine none: the paper's scale alone, nothing learned
    # export: the per-timestep multipliers carry the gain (exact at F = 32), and the integer run agrees
    model = model.double().eval()
    net = integer_network(model, 0.25, 32)
    hidden = net.layers[1]
    expected = scale.double().reshape(3, 12).numpy()
    used = np.where(hidden.scale_per_timestep != 0, hidden.scale_per_timestep, expected)
    assert np.allclose(used, expected, rtol=1e-6)  # float32 training weights, float64 export
    x = torch.randint(0, 17, (32, 1, 8, 8)).double() * 0.25
    result = agreement(model, net, x)
    assert result.predictions_equal == result.samples and result.spikes_differing == 0


def test_tawq_checkpoint_from_before_the_affine_loads_as_it_was_trained():
    """Trials stored before issue 15 have no `affine` option (now `scale` by default) and no gain in their
    weights: they load strictly, without a gain, and compute what they computed."""
    torch.manual_seed(0)
    old = build_model(Candidate(family="mlp", widths=(16,), weight_bits=(2, 2), membrane_bits=(6,), timesteps=3,
                                quantizer="tawq", quantizer_options={"scale": "paper", "affine": "none"}))
    state = old.state_dict()
    assert not any(key.endswith("log_gain") for key in state)
    new = build_model(Candidate(family="mlp", widths=(16,), weight_bits=(2, 2), membrane_bits=(6,), timesteps=3,
                                quantizer="tawq", quantizer_options={"scale": "paper"}))
    assert new.weight_layers[0].quantizer.log_gain is not None
    new.load_state_dict(state, strict=True)
    assert all(layer.quantizer.affine == "none" and layer.quantizer.log_gain is None for layer in new.weight_layers)
    x = torch.rand(4, 1, 8, 8) * 4
    assert torch.equal(old.eval()(x), new.eval()(x))


def test_tawq_shift_trains_but_is_refused_on_hardware_in_one_line():
    torch.manual_seed(0)
    cand = tawq_candidate((16,), affine="scale_shift")
    model = build_model(cand)
    assert all(isinstance(n, TaWQShiftedLIFNode) for n in model.neurons)
    x = torch.rand(4, 1, 8, 8) * 4
    before = model(x).detach()
    functional.reset_net(model)
    model(x).sum().backward()
    functional.reset_net(model)
    assert model.neurons[0].shift.grad is not None and model.neurons[0].shift.grad.abs().sum() > 0
    with torch.no_grad():
        model.neurons[0].shift.fill_(2.0)  # a shift moves every channel's current
    assert not torch.equal(model(x).detach(), before)
    with pytest.raises(UserError, match="affine: scale_shift.*no exact integer form") as err:
        integer_network(model, 0.25, "auto")
    assert "\n" not in str(err.value)
    assert "scale_shift" in template_refusal(cand)  # screened before training on fpga and asic targets
    assert template_refusal(tawq_candidate((16,))) is None


# --------------------------------------------------------------------------- ternary (item 4)


def small_digits(digits, n: int = 192):
    """The first n samples of every split: enough for a teacher to train, fast to train on."""
    cut = lambda split: Split(split.x[:n], split.y[:n])  # noqa: E731
    return dataclasses.replace(digits, train=cut(digits.train), val=cut(digits.val), test=cut(digits.test))


def test_teacher_training_time_is_charged_to_the_trial_that_trains_it(tmp_path, make_settings, digits):
    """Two trials of one architecture and T: the first trains the teacher and is charged its time (user attrs
    teacher_seconds and train_seconds, TrainResult alike), the second reports the cache hit."""
    from dse.search.runner import run_search

    ternary_mod.clear_teacher_cache()
    digits = small_digits(digits)
    space = tmp_path / "kd.yaml"
    space.write_text("families:\n  mlp: {depth: [1], widths: [16]}\nweight_bits: [2]\nmembrane_bits: [6]\n"
                     "timesteps: [2]\nparallelism: [4]\nquantizers:\n  ternary: {distill: [true]}\n")
    study = run_search(make_settings(study_name="kd", space=str(space), trials=2), digits, "cpu")
    first, second = sorted(study.trials, key=lambda t: t.number)
    (cached,) = ternary_mod._TEACHERS.values()
    assert first.user_attrs["teacher_cache_hit"] is False
    assert first.user_attrs["teacher_seconds"] == pytest.approx(cached.train_seconds) and cached.train_seconds > 0
    assert first.user_attrs["train_seconds"] > first.user_attrs["teacher_seconds"]  # the trial's time includes it
    assert second.user_attrs["teacher_cache_hit"] is True and second.user_attrs["teacher_seconds"] == 0.0
    # without distillation nothing is trained and nothing charged
    q = get_quantizer("ternary")
    cand = Candidate(family="mlp", widths=(16,), weight_bits=(2, 2), membrane_bits=(6,), timesteps=2,
                     quantizer="ternary", quantizer_options={"distill": False})
    q.prepare(cand, digits, Fidelity(epochs=1), torch.device("cpu"))
    assert q.teacher is None and q.teacher_seconds == 0.0 and q.teacher_cache_hit is None


def test_ternary_algorithm_refusal_says_the_paper_names_neither():
    with pytest.raises(ValueError, match="accepted: twn, ttq .*Ternary Weight Networks.*Trained Ternary Quantization"
                                         ".*names neither") as err:
        get_profile("ternary").check_options({"algorithm": "ternary-a"})
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- sigmoid (item 5)


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_sigmoid_gradient_is_nonzero_beyond_the_clamp(bits):
    torch.manual_seed(bits)
    q = SigmoidWeightQuantizer(bits)
    q.train()
    w = torch.randn(4, 30) * 0.1
    q(w)  # initialises beta and the offsets
    q.temperature = T_CAP
    z = (q.beta.detach() * w)[..., None] - q.offsets
    outside = (q.temperature * z).abs().min(dim=-1).values > ARG_CLAMP  # every sigmoid of the weight saturated
    assert outside.float().mean() > 0.5  # most weights lie beyond +-10 at the cap
    w = w.clone().requires_grad_(True)
    q(w).sum().backward()
    g = w.grad[outside]
    assert torch.isfinite(g).all() and (g.abs() > 0).all()
    # the value is the clamped sum of sigmoids, unchanged
    with torch.no_grad():
        soft = torch.sigmoid(torch.clamp(q.temperature * ((q.beta * w)[..., None] - q.offsets), -ARG_CLAMP, ARG_CLAMP))
        expected = q.alpha * ((soft * q.steps).sum(-1) - q.offset)
        assert torch.allclose(q(w), expected)


def test_sigmoid_gradient_is_quantization_networks_temperature_one_derivative_times_t():
    q = SigmoidWeightQuantizer(1)
    q.train()
    w0 = torch.tensor([[0.5, -0.2, 0.01, 3.0]])
    q(w0)
    q.temperature = 700.0
    w = w0.clone().requires_grad_(True)
    q(w).sum().backward()
    z = q.beta.detach() * w0  # b_1 = 0 for one bit
    s = torch.sigmoid(torch.clamp(z, -10, 10))
    expected = q.alpha.detach() * 2 * 700.0 * s * (1 - s) * q.beta.detach()  # s_1 = 2
    assert torch.allclose(w.grad, expected, rtol=1e-5)


@pytest.mark.parametrize("epochs", [1, 3, 5, 15, 200])
@pytest.mark.parametrize("t0", [10.0, 20.0])
def test_sigmoid_temperature_reaches_the_cap_at_the_last_epoch(epochs, t0):
    temps = [annealed_temperature(e, epochs, t0) for e in range(epochs)]
    assert temps[-1] == pytest.approx(T_CAP)
    if epochs > 1:
        assert temps[0] == pytest.approx(t0)
        assert all(b > a for a, b in zip(temps, temps[1:]))  # grows every epoch over the whole run
    # through the hook the training loop calls
    from dse.quantizers import get_quantizer
    cand = Candidate(family="mlp", widths=(8,), weight_bits=(1, 1), membrane_bits=(8,), timesteps=2,
                     quantizer="sigmoid", quantizer_options={"temperature": int(t0)})
    model = build_model(cand)
    get_quantizer("sigmoid").on_epoch_start(model, epochs - 1, epochs)
    quantizers = [m for m in model.modules() if isinstance(m, SigmoidWeightQuantizer)]
    assert quantizers and all(m.temperature == pytest.approx(T_CAP) for m in quantizers)


# --------------------------------------------------------------------------- effective ACs (item 6)


def tiny_mlp() -> Candidate:
    # input 2x2 = 4 features -> 3 hidden -> 2 classes
    return Candidate(family="mlp", widths=(3,), weight_bits=(2, 2), membrane_bits=(8,), timesteps=2,
                     input_shape=(1, 2, 2), num_classes=2, quantizer="uniform")


def test_effective_acs_against_a_hand_count_on_a_tiny_mlp():
    cand = tiny_mlp()
    spec = layer_specs(cand)[1]  # the readout reads the 3 hidden neurons' spikes
    # readout weights [2 out, 3 in]; zeros at (0, 1), (1, 1) and (1, 2)
    w = np.array([[0.5, 0.0, -0.5], [0.5, 0.0, 0.0]])
    fanout = (w != 0).sum(axis=0).astype(float)  # nonzero weights met by an event at each input: [2, 0, 1]
    events = np.array([3.0, 2.0, 1.0])  # spikes of hidden neurons 0, 1, 2 over T per inference
    # hand count: dense 6 events x 2 outputs = 12; effective 3 x 2 + 2 x 0 + 1 x 1 = 7
    assert count_acs(spec, events) == 12
    assert count_effective_acs(spec, events, nonzero_fanout=fanout) == 7
    # only the fraction known: 3 of 6 weights nonzero -> 0.5 x 12
    assert count_effective_acs(spec, events, nonzero_weight_fraction=0.5) == 6
    # only a total event count: 6 events x mean nonzero fan-out 1 = 6
    assert count_effective_acs(spec, 6.0, nonzero_fanout=fanout) == 6
    assert count_effective_acs(spec, events) == 12  # nothing known: dense

    act = Activity({"layer1": LayerActivity(events, 0.0, 0.5, fanout)})
    report = evaluate(cand, "asic-45nm", act)
    dense = evaluate(cand, "asic-45nm", Activity({"layer1": LayerActivity(events, 0.0)}))
    assert report.layers[1].effective_acs == 7 and report.layers[1].acs == 12
    assert report.layers[0].effective_acs == 0  # layer 0 reads the dense input: MACs, no ACs
    assert report.effective_acs == 7 and report.acs == 12
    assert dense.effective_acs == dense.acs == 12
    # every existing number is the dense report's; the energy keeps booking every AC
    for f in ("acs", "macs", "sops", "energy_mj", "compute_energy_mj", "memory_bytes", "latency_cycles"):
        assert getattr(report, f) == getattr(dense, f)
    # JSON round trips
    again = Activity.from_dict(act.to_dict())
    assert again.layers["layer1"].nonzero_weight_fraction == 0.5
    assert np.array_equal(again.layers["layer1"].nonzero_fanout, fanout)
    assert "nonzero_fanout" not in Activity({"layer1": LayerActivity(events)}).to_dict()["layer1"]
    assert CostReport.from_dict(report.to_dict()) == report
    old = report.to_dict()
    old.pop("effective_acs")
    for layer in old["layers"]:
        layer.pop("effective_acs")
    assert CostReport.from_dict(old).effective_acs is None  # a report stored before the field existed
    with pytest.raises(ValueError):
        count_effective_acs(spec, events, nonzero_fanout=np.array([3.0, 0.0, 1.0]))  # 3 > fan-out 2
    with pytest.raises(ValueError):
        count_effective_acs(spec, events, nonzero_weight_fraction=1.5)


def test_measure_records_the_nonzero_weights_of_the_trained_model():
    torch.manual_seed(0)
    cand = tiny_mlp()
    model = build_model(cand)
    with torch.no_grad():
        model.weight_layers[0].weight.copy_(torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 0.0]]))
        model.weight_layers[1].weight.copy_(torch.tensor([[1.0, 0.0, -1.0], [1.0, 0.0, 0.0]]))
    # 2-bit uniform with the mean|w| scale keeps exact zeros at zero and 1.0 nonzero
    x = torch.ones(5, 1, 2, 2)
    acc, activity, _, _ = measure(model, Split(x, torch.zeros(5, dtype=torch.long)), batch_size=2)
    a1 = activity.layers["layer1"]
    assert a1.nonzero_weight_fraction == pytest.approx(0.5)
    assert a1.nonzero_fanout.tolist() == [2.0, 0.0, 1.0]
    events = a1.input_events
    assert activity.layers["layer0"].nonzero_fanout.tolist() == [3.0, 2.0, 3.0, 2.0]
    report = evaluate(cand, "asic-45nm", activity)
    assert report.layers[1].effective_acs == pytest.approx(2 * events[0] + 0 * events[1] + 1 * events[2])
    assert report.layers[1].acs == pytest.approx(2 * events.sum())


@pytest.mark.parametrize("quantizer, bits", [("ternary", 2), ("tawq", 2), ("uniform", 2)])
def test_measured_effective_acs_equal_a_brute_force_count_on_a_conv_net(quantizer, bits):
    torch.manual_seed(3)
    cand = Candidate(family="conv", widths=(4, 6), weight_bits=(bits,) * 3, membrane_bits=(8, 8), timesteps=3,
                     kernel_size=3, pooling=("none", "max"), quantizer=quantizer)
    model = build_model(cand)
    model.eval()
    x = torch.rand(7, 1, 8, 8) * 4
    spikes_in: list[torch.Tensor] = []
    hook = model.weight_layers[1].register_forward_hook(lambda _m, inp, _o: spikes_in.append(inp[0].detach()))
    _, activity, _, _ = measure(model, Split(x, torch.zeros(7, dtype=torch.long)), batch_size=16)
    hook.remove()
    (s,) = spikes_in  # [T, B, C, H, W]
    layer = model.weight_layers[1]
    w = layer.quantized_weight().detach()
    sets = w if w.dim() == layer.weight.dim() + 1 else w.unsqueeze(0).expand(s.shape[0], *w.shape)
    # brute force: for every output position and channel, the input events its nonzero weights touch
    brute = sum(
        float(F.conv2d((s[t] != 0).double(), (sets[t] != 0).double(), padding=layer.padding).sum())
        for t in range(s.shape[0])
    ) / x.shape[0]
    report = evaluate(cand, "asic-45nm", activity)
    zeros = float((w == 0).double().mean())
    assert zeros > 0  # the type does produce zero weights
    if w.dim() == layer.weight.dim():
        assert report.layers[1].effective_acs == pytest.approx(brute, rel=1e-9)
    else:  # one weight set per step: the mean over sets is used (events are summed over T)
        assert report.layers[1].effective_acs == pytest.approx(brute, rel=0.1)
    assert report.layers[1].effective_acs < report.layers[1].acs
    assert math.isclose(report.effective_acs, sum(l.effective_acs for l in report.layers))


def test_nonzero_weights_of_a_quantizer_without_a_zero_level_is_the_full_fanout():
    model = build_model(qsnn_candidate((5, 6)))
    model.eval()
    fraction, fanout = nonzero_weights(model.weight_layers[1], (5,))  # Q-SNN's binary +-s_c layer
    assert fraction == 1.0 and fanout.tolist() == [6.0] * 5
