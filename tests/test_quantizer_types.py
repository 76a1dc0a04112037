"""The five published quantizer types: promised levels, gradients, their special mechanisms,
the profiles the search space validates against, and one epoch of real training each."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from spikingjelly.activation_based import functional

from cost_models.network import layer_specs
from dse.training.data import load_dataset
from dse.training.model import build_model
from dse.quantizers import LayerContext, get_quantizer, registered_quantizers
from dse.quantizers import mfp as mfp_mod
from dse.quantizers import ternary as ternary_mod
from dse.quantizers.mfp import ParallelResetFreeNeuron, decay_matrix
from dse.quantizers.qsnn import QSNNBinaryWeight, QSNNEdgeWeight, QSNNLIFNode, estimator_temperature
from dse.quantizers.sigmoid import SigmoidWeightQuantizer, sigmoid_levels
from dse.quantizers.tawq import TaWQWeightQuantizer, standardise, weight_neuron_spikes
from dse.quantizers.ternary import TTQ_DELTA, TTQWeightQuantizer, TWNWeightQuantizer
from dse.training.train import Fidelity, expected_calibration_error, train_candidate
from search_spaces.candidate import Candidate
from search_spaces.quantizer_types import PROFILES, get_profile
from search_spaces.space import SearchSpace, SpaceError

TYPES = ["uniform", "tawq", "qsnn", "mfp", "ternary", "sigmoid"]
REPO = Path(__file__).resolve().parents[1]


def ctx(index=1, n_layers=3, out=6, timesteps=4, **options):
    return LayerContext(index, n_layers, out, timesteps, options)


def small_candidate(quantizer: str, widths=(32,), timesteps=2, weight_bits=None, options=None, **kw) -> Candidate:
    profile = get_profile(quantizer)
    n = len(widths) + 1
    if weight_bits is None:
        if profile.edge_layer_bits is not None:  # pinned edges (qsnn, tawq): under the candidate's options
            merged = profile.check_options(options or {})
            weight_bits = tuple(profile.layer_weight_bits(i, n, options=merged)[0] for i in range(n))
        else:
            weight_bits = (2 if 2 in profile.weight_bits else profile.weight_bits[0],) * n
    membrane = (None,) * len(widths) if not profile.membrane_bits else (8,) * len(widths)
    return Candidate(
        family="mlp", widths=widths, weight_bits=weight_bits, membrane_bits=membrane,
        timesteps=timesteps, quantizer=quantizer, quantizer_options=options or {}, **kw,
    )


# --------------------------------------------------------------------------- registry, profiles


def test_every_type_is_registered_with_a_profile():
    assert registered_quantizers() == TYPES
    for name in TYPES:
        q = get_quantizer(name)
        assert q.name == name and q.profile is PROFILES[name]
        assert PROFILES[name].paper


def test_neurons_module_imports_on_its_own():
    # dse.training.neurons imports the quantizers package for round_ste; the registry must not import it back
    out = subprocess.run(
        [sys.executable, "-c", "import dse.training.neurons; import dse.quantizers.qsnn"],
        cwd=REPO, capture_output=True, text=True, env={"PYTHONPATH": str(REPO)},
    )
    assert out.returncode == 0, out.stderr


def test_profiles_say_what_the_cost_model_needs():
    assert PROFILES["tawq"].weights_per_timestep and PROFILES["tawq"].weight_bits == (2, 8)
    assert PROFILES["tawq"].edge_layer_bits == 8 and PROFILES["tawq"].hidden_weight_bits() == (2,)
    assert PROFILES["mfp"].membrane_bits == () and not PROFILES["mfp"].has_membrane_state
    assert PROFILES["qsnn"].edge_layer_bits == 8
    assert PROFILES["ternary"].weight_bits == (2,)
    # a tawq ternary layer stores T codes of 2 bits and reads 2 bits per weight per timestep; its 8-bit edges one set
    for T in (1, 4, 6):
        specs = layer_specs(small_candidate("tawq", widths=(32, 32), timesteps=T))
        assert [s.weight_bits for s in specs] == [8, 2, 8]
        assert [(s.weight_storage_bits, s.weight_read_bits, s.weight_sets) for s in specs] == \
            [(8, 8, 1), (2 * T, 2, T), (8, 8, 1)]
        specs = layer_specs(small_candidate("tawq", timesteps=T, options={"edge_bits": 2}))
        assert all(s.weight_storage_bits == 2 * T and s.weight_read_bits == 2 and s.weight_sets == T for s in specs)
    specs = layer_specs(small_candidate("mfp"))
    assert not any(s.has_membrane_state for s in specs)


# --------------------------------------------------------------------------- tawq


def test_tawq_levels_are_ternary_per_timestep_and_channel():
    torch.manual_seed(0)
    w = torch.randn(6, 50) * 0.1
    q = TaWQWeightQuantizer(timesteps=4)
    out = q(w)
    assert out.shape == (4, 6, 50)
    codes, scale = q.codes(w)
    assert set(torch.unique(codes).tolist()) <= {-1, 0, 1}
    assert torch.allclose(codes.float() * scale, out.detach())
    # one scale per (timestep, output channel): 1 / mean |s_t| over the fan-in
    expected = 1.0 / (codes.float().abs().mean(dim=2, keepdim=True) + 1e-6)
    assert torch.allclose(scale, expected)


def test_tawq_latent_scale_keeps_the_latent_magnitude():
    torch.manual_seed(0)
    w = torch.randn(6, 50) * 0.05
    paper, latent = TaWQWeightQuantizer(3, "paper"), TaWQWeightQuantizer(3, "latent")
    codes_p, scale_p = paper.codes(w)
    codes_l, scale_l = latent.codes(w)
    assert torch.equal(codes_p, codes_l)
    assert torch.allclose(scale_l, scale_p * w.abs().mean(dim=1).view(1, 6, 1))
    assert torch.allclose(latent(w).detach(), codes_l.float() * scale_l)
    model = build_model(small_candidate("tawq", options={"scale": "latent", "edge_bits": 2}))
    assert all(layer.quantizer.scale_mode == "latent" for layer in model.weight_layers)


def test_tawq_weights_differ_across_timesteps_for_intermediate_latents():
    # w_hat = 0.4: v1 = 0.2 < 0.25 (no spike), v2 = 0.3 > 0.25 (spike, reset), v3 = 0.2, v4 = 0.3 ...
    w_hat = torch.tensor([3.0, 0.4, 0.1, -0.4, -3.0])
    s = weight_neuron_spikes(w_hat, 4)
    assert s[:, 0].tolist() == [1, 1, 1, 1]  # large weights fire at every step
    assert s[:, 1].tolist() == [0, 1, 0, 1]  # intermediate ones are rate-coded in time
    assert s[:, 2].tolist() == [0, 0, 0, 0]
    assert s[:, 3].tolist() == [0, -1, 0, -1]
    assert s[:, 4].tolist() == [-1, -1, -1, -1]
    torch.manual_seed(1)
    out = TaWQWeightQuantizer(4)(torch.randn(8, 64))
    assert not torch.equal(torch.sign(out[0]), torch.sign(out[1]))


def test_tawq_standardises_the_whole_layer():
    w = torch.randn(5, 7) * 3 + 2
    w_hat = standardise(w)
    assert abs(float(w_hat.mean())) < 1e-5 and abs(float(w_hat.std()) - 1) < 1e-5


# --------------------------------------------------------------------------- qsnn


def test_qsnn_binary_weights_with_power_of_two_channel_scale():
    torch.manual_seed(0)
    w = torch.randn(6, 40) * torch.linspace(0.01, 2, 6)[:, None] + 0.3
    out = QSNNBinaryWeight()(w)
    for c in range(6):
        values = torch.unique(out[c].abs())
        assert len(values) == 1
        exponent = math.log2(float(values[0]))
        assert exponent == round(exponent)  # a power of two: a shift in hardware
    assert set(torch.unique(torch.sign(out)).tolist()) == {-1.0, 1.0}


def test_qsnn_edge_layers_are_8_bit():
    torch.manual_seed(0)
    w = torch.randn(6, 40)
    out = QSNNEdgeWeight()(w)
    step = w.abs().max() / 127
    codes = out / step
    assert torch.allclose(codes, torch.round(codes), atol=1e-4)
    assert codes.abs().max() <= 127 + 1e-4


def test_qsnn_estimator_is_annealed_by_epoch():
    assert estimator_temperature(0, 10) == pytest.approx((0.1, 10.0))
    t, k = estimator_temperature(5, 10)
    assert t == pytest.approx(1.0) and k == pytest.approx(1.0)
    t, k = estimator_temperature(9, 10)
    assert t == pytest.approx(10 ** 0.8) and k == 1.0
    model = build_model(small_candidate("qsnn", widths=(16, 16)))
    model.quantizer_type.on_epoch_start(model, 3, 6)
    binaries = [m for m in model.modules() if isinstance(m, QSNNBinaryWeight)]
    assert binaries and all(m.t == pytest.approx(1.0) for m in binaries)
    # the estimator's gradient is k t (1 - tanh^2(t w_hat))
    q = QSNNBinaryWeight()
    q.set_epoch(5, 10)
    w = torch.randn(3, 20, requires_grad=True)
    q(w).sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_qsnn_membrane_lies_on_the_b_bit_grid(bits):
    torch.manual_seed(0)
    node = QSNNLIFNode(bits, tau=2.0, v_threshold=1.0)
    node.store_v_seq = True
    x = torch.randn(6, 3, 20) * 1.5
    spikes = node(x)
    assert set(torch.unique(spikes).tolist()) <= {0.0, 1.0}
    levels = 2 ** (bits - 1) - 1
    for t in range(6):
        v = node.v_seq[t]
        alpha = v.abs().max()  # the element at max|tanh u| lands exactly on +-alpha
        codes = v / alpha * levels
        assert torch.allclose(codes, torch.round(codes), atol=1e-4)
        assert len(torch.unique(torch.round(codes))) <= 2 * levels + 1
    assert node.last_rate is not None and 0 <= float(node.last_rate) <= 1


def test_qsnn_lif_dynamics_match_the_paper():
    node = QSNNLIFNode(None, tau=2.0, v_threshold=1.0)
    node.store_v_seq = True
    x = torch.tensor([0.6, 0.6, 0.6, 0.2]).view(4, 1, 1)
    spikes = node(x).flatten().tolist()
    # u1 = 0.6; u2 = 0.3 + 0.6 = 0.9; u3 = 0.45 + 0.6 = 1.05 -> spike, reset to 0; u4 = 0.2
    assert spikes == [0, 0, 1, 0]
    assert node.v_seq.flatten().tolist() == pytest.approx([0.6, 0.9, 0.0, 0.2])


def test_qsnn_rate_regulariser_uses_inner_layers_when_there_are_any():
    inputs = torch.rand(8, 1, 8, 8) * 4
    targets = torch.randint(0, 10, (8,))
    for widths, options, inner_only in [
        ((16,), {}, False),  # one spiking layer: fire_rate[1:-1] is empty -> every LIF layer
        ((16, 16), {}, False),  # two: likewise
        ((16, 16, 16), {}, True),  # three: the authors' slice, the middle one
        ((16, 16, 16), {"rate_layers": "all"}, False),
        ((16,), {"rate_layers": "all"}, False),
    ]:
        model = build_model(small_candidate("qsnn", widths=widths, options=options))
        logits = model(inputs)
        extra = model.quantizer_type.loss_terms(model, logits, targets, inputs)
        functional.reset_net(model)
        assert extra is not None, widths
        rates = [n.last_rate for n in model.neurons]
        used = rates[1:-1] if inner_only else rates
        expected = 5e-3 * torch.stack([(r - 0.5) ** 2 for r in used]).mean()
        assert torch.allclose(extra, expected)
        assert extra.requires_grad


# --------------------------------------------------------------------------- mfp


def sequential_reference(current: torch.Tensor, tau: float, theta: float) -> torch.Tensor:
    """u_t = lambda u_{t-1} + I_t / tau, no reset; s_t = [u_t >= theta]."""
    lam = 1 - 1 / tau
    u = torch.zeros_like(current[0])
    out = []
    for t in range(current.shape[0]):
        u = lam * u + current[t] / tau
        out.append((u >= theta).float())
    return torch.stack(out)


@pytest.mark.parametrize("timesteps", [1, 2, 5, 8])
def test_mfp_parallel_equals_sequential_reference(timesteps):
    torch.manual_seed(timesteps)
    current = torch.randn(timesteps, 4, 7) * 2
    neuron = ParallelResetFreeNeuron(tau=2.0, v_threshold=1.0)
    lam = 0.5
    u_ref = torch.zeros_like(current[0])
    for t in range(timesteps):
        u_ref = lam * u_ref + current[t] / 2.0
        assert torch.allclose(neuron.membrane(current)[t], u_ref, atol=1e-6)
    assert torch.equal(neuron(current), sequential_reference(current, 2.0, 1.0))


def test_mfp_decay_matrix():
    m = decay_matrix(3, 2.0)
    assert torch.allclose(m, torch.tensor([[0.5, 0, 0], [0.25, 0.5, 0], [0.125, 0.25, 0.5]]))
    assert torch.equal(decay_matrix(3, 1.0), torch.eye(3))  # tau = 1: no leak memory at all


@pytest.mark.parametrize("timesteps", [2, 8])
def test_mfp_forward_is_one_einsum_and_no_time_loop(monkeypatch, timesteps):
    calls = []
    real = torch.einsum

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(mfp_mod.torch, "einsum", counting)
    neuron = ParallelResetFreeNeuron(tau=2.0, v_threshold=1.0)
    current = torch.randn(timesteps, 3, 5, requires_grad=True)

    spikes = neuron(current)
    assert calls == ["ti,i...->t..."]
    assert spikes.shape == current.shape
    spikes.sum().backward()
    assert current.grad is not None and current.grad.abs().sum() > 0
    # the module's source has no loop over the time axis
    source = inspect.getsource(ParallelResetFreeNeuron.forward) + inspect.getsource(ParallelResetFreeNeuron.membrane)
    assert "for " not in source and "while " not in source


def test_mfp_refuses_membrane_bits_and_keeps_no_state():
    q = get_quantizer("mfp")
    with pytest.raises(ValueError, match="keeps no membrane"):
        q.neuron(8, ctx(), 2.0, 1.0)
    model = build_model(small_candidate("mfp"))
    x = torch.rand(4, 1, 8, 8) * 4
    first = model(x)
    second = model(x)  # no reset in between: a memory-free neuron gives the same answer
    assert torch.equal(first, second)


def test_mfp_weights_are_learned_scale_uniform():
    torch.manual_seed(0)
    wq = get_quantizer("mfp").weight_quantizer(3, ctx(out=4))
    w = torch.randn(4, 30) * 0.2
    out = wq(w)
    codes, s = wq.codes(w)
    assert torch.allclose(codes.float() * s, out.detach(), atol=1e-6)
    assert codes.abs().max() <= 3
    assert any(p.requires_grad for p in wq.parameters())  # the scale is learned


# --------------------------------------------------------------------------- ternary


def test_twn_levels_threshold_and_scale():
    torch.manual_seed(0)
    w = torch.randn(8, 50) * 0.1
    out = TWNWeightQuantizer()(w)
    delta = 0.7 * w.abs().mean()
    alpha = w.abs()[w.abs() > delta].mean()
    assert torch.allclose(torch.unique(out), torch.stack([-alpha, torch.tensor(0.0), alpha]))
    assert torch.equal(out == 0, w.abs() <= delta)


def test_twn_clipped_ste():
    w = torch.tensor([[0.5, -0.2, 1.5, -3.0, 0.01]], requires_grad=True)
    TWNWeightQuantizer()(w).sum().backward()
    assert w.grad.tolist() == [[1.0, 1.0, 0.0, 0.0, 1.0]]


def test_ttq_learned_scales_and_gradients():
    torch.manual_seed(0)
    w = (torch.randn(8, 50) * 0.1).requires_grad_(True)
    q = TTQWeightQuantizer("log")
    out = q(w)
    q.set_scales(0.3, 0.1)
    out = q(w)
    delta = 0.05 * w.detach().abs().max()
    assert torch.allclose(torch.unique(out.detach()), torch.tensor([-0.1, 0.0, 0.3]))
    assert torch.equal(out.detach() == 0, w.detach().abs() <= delta)
    g = torch.randn_like(out)
    (out * g).sum().backward()
    pos, neg = w.detach() > delta, w.detach() < -delta
    factor = torch.where(pos, 0.3, torch.where(neg, 0.1, 1.0))
    assert torch.allclose(w.grad, g * factor)
    # the scales are learned as logarithms: d/dl_p = W_p x (the summed gradient of the positive part)
    assert torch.allclose(q.scale_p.grad, 0.3 * g[pos].sum())
    assert torch.allclose(q.scale_n.grad, -0.1 * g[neg].sum())
    direct = TTQWeightQuantizer("direct")  # as TTQ's paper: the summed gradients themselves
    direct.set_scales(0.3, 0.1)
    w.grad = None
    (direct(w) * g).sum().backward()
    assert torch.allclose(direct.scale_p.grad, g[pos].sum()) and torch.allclose(direct.scale_n.grad, -g[neg].sum())
    assert torch.allclose(w.grad, g * factor)


def test_ttq_scales_stay_positive_under_a_push_that_would_flip_a_direct_scale():
    """`scales: direct` (TTQ's paper): a scale of 0.02 stepped by Adam at lr 1e-2 against a steady gradient
    crosses zero in a few steps, and then every positive weight is negative; `log` only shrinks it."""
    w = torch.randn(16, 800) * 0.03
    pos = w > TTQ_DELTA * w.abs().max()
    final = {}
    for mode in ("log", "direct"):
        q = TTQWeightQuantizer(mode)
        q.set_scales(0.02, 0.02)
        optimizer = torch.optim.Adam(q.parameters(), lr=1e-2)
        for _ in range(20):
            optimizer.zero_grad()
            (q(w)[pos]).sum().backward()  # d loss / d W_p > 0 at every step: pushes W_p down
            optimizer.step()
        final[mode] = (float(q.w_p.detach()), float(q.w_n.detach()))
    assert 0 < final["log"][0] < 0.02 and final["log"][1] == pytest.approx(0.02)
    assert final["direct"][0] < 0


def test_ttq_checkpoint_with_direct_scales_loads_exactly_signs_included():
    torch.manual_seed(0)
    w = torch.randn(6, 20)
    for mode in ("log", "direct"):
        for w_p, w_n in ((0.3, 0.1), (-0.2, -0.4)):
            old_state = {"w_p": torch.tensor(w_p), "w_n": torch.tensor(w_n), "initialised": torch.tensor(True)}
            q = TTQWeightQuantizer(mode)
            q.load_state_dict(old_state, strict=True)
            assert float(q.w_p.detach()) == pytest.approx(w_p) and float(q.w_n.detach()) == pytest.approx(w_n)
            pos, neg = TTQWeightQuantizer.masks(w)
            assert torch.allclose(q(w).detach(), w_p * pos - w_n * neg)


def test_ternary_refuses_unknown_scales_in_one_line():
    with pytest.raises(ValueError, match=r"option 'scales' cannot be 'linear'; accepted: direct, log") as err:
        get_profile("ternary").check_options({"algorithm": "ttq", "scales": "linear"})
    assert "\n" not in str(err.value)


def test_distillation_changes_the_loss_only_when_enabled():
    ternary_mod.clear_teacher_cache()
    data = load_dataset("digits")
    fidelity = Fidelity(epochs=1)
    inputs, targets = data.train.x[:32], data.train.y[:32]
    losses = {}
    for distill in (False, True):
        cand = small_candidate("ternary", options={"distill": distill})
        model = build_model(cand)
        model.quantizer_type.prepare(cand, data, fidelity, torch.device("cpu"))
        logits = model(inputs)
        losses[distill] = model.quantizer_type.loss_terms(model, logits, targets, inputs)
        functional.reset_net(model)
    assert losses[False] is None
    assert losses[True] is not None and float(losses[True].detach()) > 0 and losses[True].requires_grad
    # the teacher is the same architecture in full precision, trained once and cached
    teacher, acc = ternary_mod.get_teacher(small_candidate("ternary", options={"distill": True}), data, fidelity, torch.device("cpu"))
    assert teacher.candidate.quantizer == "uniform"
    assert all(b is None for b in (*teacher.candidate.weight_bits, *teacher.candidate.membrane_bits))
    assert teacher.candidate.widths == (32,) and acc > 0.3
    other_bits = small_candidate("ternary", options={"distill": True, "algorithm": "ttq"})
    assert ternary_mod.get_teacher(other_bits, data, fidelity, torch.device("cpu"))[0] is teacher
    other_arch = small_candidate("ternary", widths=(16,), options={"distill": True})
    key = ternary_mod._teacher_key(other_arch, data, fidelity, torch.device("cpu"))
    assert key not in ternary_mod._TEACHERS


def test_distillation_loss_is_zero_for_identical_logits():
    logits = torch.randn(5, 10)
    assert float(ternary_mod.distillation_loss(logits, logits)) == pytest.approx(0.0, abs=1e-6)
    assert float(ternary_mod.distillation_loss(logits, -logits)) > 0


def test_expected_calibration_error():
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = torch.tensor([0, 1, 0, 0])
    # bin of 0.9: accuracy 0.5, confidence 0.9; bin of 0.6: accuracy 1.0, confidence 0.6
    assert expected_calibration_error(probs, labels) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    assert expected_calibration_error(torch.tensor([[1.0, 0.0]]), torch.tensor([0])) == pytest.approx(0.0)


# --------------------------------------------------------------------------- sigmoid


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_sigmoid_equals_the_step_function_at_eval(bits):
    torch.manual_seed(bits)
    w = torch.randn(6, 40) * 0.1
    q = SigmoidWeightQuantizer(bits)
    q.eval()
    out = q(w).detach()
    codes, levels = q.codes(w)
    assert torch.allclose(out, levels[codes.long()], atol=1e-6)
    assert len(torch.unique(out)) <= 2 ** bits
    expected_levels = sigmoid_levels(bits) * q.alpha.detach()
    assert torch.allclose(levels, expected_levels)
    # the step function itself: alpha (sum_i s_i H(beta w - b_i) - o)
    step = q.alpha * ((((q.beta * w)[..., None] - q.offsets) >= 0).float() * 2).sum(-1) - q.alpha * (2 ** bits - 1)
    assert torch.allclose(out, step.detach(), atol=1e-6)
    # training mode is the sum of sigmoids; at a high temperature it approaches the step
    q.train()
    q.temperature = 2000.0
    soft = q(w).detach()
    # only weights within 10 / T_s of a boundary (in beta w units) still sit between two levels
    assert float((soft - out).abs().mean()) < 0.01 * float(q.alpha.detach())


def test_sigmoid_binary_is_two_sigmoid_minus_one_and_anneals():
    torch.manual_seed(0)
    w = torch.randn(4, 10) * 0.1
    q = SigmoidWeightQuantizer(1)
    out = q(w)
    expected = q.alpha * (2 * torch.sigmoid(torch.clamp(q.temperature * q.beta * w, -10, 10)) - 1)
    assert torch.allclose(out, expected)
    # linear in the epoch from T_0 (first epoch) to the cap 2000 (last epoch) of the trial's schedule
    q.set_epoch(0, 5)
    assert q.temperature == 10
    q.set_epoch(4, 5)
    assert q.temperature == 2000
    model = build_model(small_candidate("sigmoid", weight_bits=(2, 2), options={"temperature": 20}))
    model.quantizer_type.on_epoch_start(model, 2, 5)
    assert all(m.temperature == pytest.approx(20 + (2000 - 20) / 2) for m in model.modules() if isinstance(m, SigmoidWeightQuantizer))


# --------------------------------------------------------------------------- all types


@pytest.mark.parametrize("quantizer", TYPES)
def test_gradients_reach_latent_weights(quantizer):
    torch.manual_seed(0)
    # qsnn needs a hidden layer to have a binary one; a second LIF layer of the others is silent at init
    widths = (64, 64) if quantizer == "qsnn" else (64,)
    model = build_model(small_candidate(quantizer, widths=widths, timesteps=3))
    model.train()
    model.quantizer_type.on_epoch_start(model, 0, 3)
    x = torch.rand(16, 1, 8, 8) * 4
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits.mean(0), torch.randint(0, 10, (16,)))
    extra = model.quantizer_type.loss_terms(model, logits, torch.zeros(16, dtype=torch.long), x)
    if extra is not None:
        loss = loss + extra
    loss.backward()
    for i, layer in enumerate(model.weight_layers):
        assert layer.weight.grad is not None, f"layer {i}"
        assert layer.weight.grad.abs().sum() > 0, f"layer {i}"


@pytest.mark.parametrize("quantizer", TYPES)
def test_eval_weights_take_only_the_promised_levels(quantizer):
    torch.manual_seed(0)
    cand = small_candidate(quantizer, widths=(16, 16), timesteps=3)
    model = build_model(cand)
    model.eval()
    for i, layer in enumerate(model.weight_layers):
        bits = cand.weight_bits[i]
        w = layer.quantized_weight().detach()
        per_step = w if w.dim() == layer.weight.dim() + 1 else w.unsqueeze(0)
        for t in range(per_step.shape[0]):
            for c in range(per_step.shape[1]):
                assert len(torch.unique(per_step[t, c])) <= 2 ** bits, (quantizer, i, t, c)


@pytest.mark.parametrize("quantizer", TYPES)
def test_every_type_trains_one_epoch_on_digits(quantizer):
    data = load_dataset("digits")
    cand = small_candidate(quantizer, widths=(64,), timesteps=2)
    result = train_candidate(cand, data, Fidelity(epochs=1), seed=0, device=torch.device("cpu"))
    assert result.accuracy > 0.3, result.accuracy
    assert 0.0 <= result.ece <= 1.0
    assert set(result.activity.layers) == {"layer0", "layer1"}


def test_ternary_with_distillation_trains_one_epoch():
    ternary_mod.clear_teacher_cache()
    data = load_dataset("digits")
    cand = small_candidate("ternary", widths=(64,), options={"algorithm": "ttq", "distill": True})
    result = train_candidate(cand, data, Fidelity(epochs=1), seed=0, device=torch.device("cpu"))
    assert result.accuracy > 0.3


# --------------------------------------------------------------------------- search spaces


SPACE = """
families:
  mlp: {depth: [1, 2, 3], widths: [16]}
weight_bits: [1, 2, 4, 8, fp]
membrane_bits: [4, 8, fp]
timesteps: [1, 2]
quantizers:
"""


def write(tmp_path, quantizers: str) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE + quantizers)
    return str(path)


@pytest.mark.parametrize(
    "quantizers, fragments",
    [
        ("  qsnn: {weight_bits: [4]}\n", ["'qsnn'", "weight bits 4", "accepted: 1, 8"]),
        ("  qsnn: {weight_bits: [8]}\n", ["'qsnn'", "first and last layers to 8 bits", "hidden layers need one of 1"]),
        ("  mfp: {membrane_bits: [8]}\n", ["'mfp'", "keeps no membrane"]),
        ("  tawq: {weight_bits: [1]}\n", ["'tawq'", "weight bits 1", "accepted: 2"]),
        ("  ternary: {weight_bits: [4, fp]}\n", ["'ternary'", "weight bits 4", "accepted: 2"]),
        ("  sigmoid: {weight_bits: [6]}\n", ["'sigmoid'", "weight bits 6", "accepted: 1, 2, 3, 4, 8"]),
        ("  ternary: {scheme: [twn]}\n", ["'ternary'", "no option 'scheme'", "accepted: algorithm, distill"]),
        ("  ternary: {algorithm: [xnor]}\n", ["'ternary'", "option 'algorithm' cannot be 'xnor'", "accepted: twn, ttq"]),
        ("  tawq: {scale: [mean]}\n", ["'tawq'", "option 'scale' cannot be 'mean'", "accepted: paper, latent"]),
        ("  mfp: {scale: [mean]}\n", ["'mfp'", "no option 'scale'", "accepted: none"]),
        ("  qsnn: {rate_layers: [some]}\n", ["'qsnn'", "accepted: inner, all"]),
    ],
)
def test_space_refuses_what_a_type_cannot_take(tmp_path, quantizers, fragments):
    with pytest.raises(SpaceError) as err:
        SearchSpace.load(write(tmp_path, quantizers))
    for fragment in fragments:
        assert fragment in str(err.value)


def test_global_bits_are_filtered_per_type(tmp_path):
    space = SearchSpace.load(write(tmp_path, "  tawq: {}\n  mfp: {}\n  qsnn: {}\n  sigmoid: {}\n"))
    assert space.quantizers["tawq"].weight_bits == (2, 8)
    assert space.quantizers["mfp"].membrane_bits == ()
    assert space.quantizers["mfp"].weight_bits == (1, 2, 4, 8, None)
    assert space.quantizers["qsnn"].weight_bits == (1, 8)
    assert space.quantizers["sigmoid"].weight_bits == (1, 2, 4, 8)
    path = tmp_path / "narrow.yaml"
    path.write_text((SPACE + "  tawq: {}\n").replace("[1, 2, 4, 8, fp]", "[1, 4]"))
    with pytest.raises(SpaceError, match="none of the space's weight bits suit 'tawq'; it accepts 2, 8"):
        SearchSpace.load(str(path))


def test_qsnn_suggest_pins_edges_to_8_and_hidden_to_1(tmp_path):
    space = SearchSpace.load(write(tmp_path, "  qsnn: {}\n"))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    depths = set()
    for _ in range(15):
        trial = study.ask()
        cand = space.suggest(trial, (1, 8, 8), 10)
        depths.add(len(cand.widths))
        assert cand.weight_bits[0] == 8 and cand.weight_bits[-1] == 8
        assert all(b == 1 for b in cand.weight_bits[1:-1])
        # pinned edges are no Optuna parameters; hidden ones keep the usual names
        assert "qsnn_wbits_0" not in trial.params
        for i in range(1, len(cand.widths)):
            assert trial.params[f"qsnn_wbits_{i}"] == 1
        study.tell(trial, 0.0)
    assert depths == {1, 2, 3}


def test_all_quantizers_space_suggests_buildable_candidates():
    space = SearchSpace.load("all-quantizers")
    assert set(space.quantizers) == set(TYPES)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(60):
        trial = study.ask()
        cand = space.suggest(trial, (1, 8, 8), 10)
        profile = get_profile(cand.quantizer)
        for i, b in enumerate(cand.weight_bits):
            assert b in profile.layer_weight_bits(i, cand.n_weight_layers, options=cand.quantizer_options)
        if not profile.membrane_bits:
            assert all(b is None for b in cand.membrane_bits)
        seen.add(cand.quantizer)
        study.tell(trial, 0.0)
    assert seen == set(TYPES)
    # a model builds and runs for one candidate of each type
    x = torch.rand(2, 1, 8, 8) * 4
    for name in TYPES:
        cand = small_candidate(name, timesteps=2)
        assert build_model(cand)(x).shape == (2, 2, 10)
