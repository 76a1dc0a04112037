"""Integer forms of every quantizer type (docs/integer-semantics.md): uniform, ternary TWN and TTQ, sigmoid,
TaWQ, Q-SNN and MFP, each built with the project's model builder, trained one epoch on digits and run
against the integer reference simulation, plus event input, conv nets, npz round trips and hand checks."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import torch

from dse.errors import UserError
from dse.export.integer_network import (
    LIF, MFP, MULTIPLIER_BITS, PER_TIMESTEP, QSNN, SCALED, SIGN_SCALES, IntegerLayer, IntegerNetwork,
    integer_network, mfp_state_bits, qsnn_level_thresholds, require_standard_form,
)
from dse.export.integer_sim import agreement, input_codes, model_input_steps, model_spikes, simulate
from dse.export.npz_format import read_npz, to_arrays, write_npz
from dse.quantizers.ternary import TTQWeightQuantizer
from dse.training.model import build_model
from dse.training.train import Fidelity, train_candidate
from search_spaces.candidate import Candidate

torch.set_num_threads(1)
DIGITS_STEP = 0.25  # digits pixels are k/16 x 4

TTQ = {"algorithm": "ttq"}
MLP = {
    "uniform": Candidate("mlp", (32,), (4, 4), (6,), 4),
    "ternary-twn": Candidate("mlp", (32,), (2, 2), (6,), 4, quantizer="ternary"),
    "ternary-ttq": Candidate("mlp", (32,), (2, 2), (6,), 4, quantizer="ternary", quantizer_options=TTQ),
    "sigmoid": Candidate("mlp", (32,), (2, 2), (6,), 4, quantizer="sigmoid"),
    "tawq": Candidate("mlp", (32,), (2, 2), (6,), 4, quantizer="tawq"),
    "tawq-latent": Candidate("mlp", (32,), (2, 2), (6,), 4, quantizer="tawq", quantizer_options={"scale": "latent"}),
    "qsnn": Candidate("mlp", (32, 16), (8, 1, 8), (6, 6), 4, quantizer="qsnn"),
    "mfp": Candidate("mlp", (32,), (4, 4), (None,), 4, quantizer="mfp"),
}
CONV = {
    "uniform": Candidate("conv", (8,), (4, 4), (8,), 4, pooling=("avg",)),
    "ternary-ttq": Candidate("conv", (8,), (2, 2), (8,), 4, pooling=("avg",), quantizer="ternary", quantizer_options=TTQ),
    "tawq-latent": Candidate("conv", (8,), (2, 2), (8,), 4, pooling=("avg",), quantizer="tawq",
                             quantizer_options={"scale": "latent"}),
    "qsnn": Candidate("conv", (4, 8), (8, 1, 8), (8, 6), 4, pooling=("avg", "max"), quantizer="qsnn"),
    "mfp": Candidate("conv", (8,), (4, 4), (None,), 4, pooling=("avg",), quantizer="mfp"),
}
FORMS = {  # (weight form, neuron) each type must produce
    "uniform": (SCALED, LIF), "ternary-twn": (SCALED, LIF), "ternary-ttq": (SIGN_SCALES, LIF),
    "sigmoid": (SCALED, LIF), "tawq": (PER_TIMESTEP, LIF), "tawq-latent": (PER_TIMESTEP, LIF),
    "qsnn": (SCALED, QSNN), "mfp": (SCALED, MFP),
}

_MODELS: dict[tuple[str, str], torch.nn.Module] = {}


def trained(family: str, name: str, digits) -> torch.nn.Module:
    """One epoch of the project's QAT (seed 0), then float64 and eval: the contract's reference model."""
    key = (family, name)
    if key not in _MODELS:
        candidate = (MLP if family == "mlp" else CONV)[name]
        result = train_candidate(candidate, digits, Fidelity(epochs=1), seed=0, device=torch.device("cpu"))
        _MODELS[key] = result.model.double().eval()
    return _MODELS[key]


@pytest.fixture(scope="module")
def batch(digits):
    return digits.test.x[:128].double()


def differences_not_at_ties(model_out: list[np.ndarray], sim) -> int:
    """Differing neurons that no exact boundary of the integer run explains.

    Per sample and layer whose input spikes agree (layer 0, or the previous layer's spikes equal for that
    sample), every neuron whose spikes differ must have sat on a boundary (SimResult.ties: an exact rounding
    tie of a LIF membrane, H == Theta, V_t == Theta_t) at or before its first differing timestep: there the
    float model's own rounding residue decided the other way. Differences downstream of one are inherited."""
    unexplained = 0
    for b in range(model_out[0].shape[1]):
        for layer, (a, s) in enumerate(zip(model_out, sim.spikes)):
            diff = a[:, b] != s[:, b]  # [T, ...]
            if not diff.any():
                continue
            if layer > 0 and not np.array_equal(model_out[layer - 1][:, b], sim.spikes[layer - 1][:, b]):
                continue
            seen_tie = np.logical_or.accumulate(sim.ties[layer][:, b], axis=0)
            first = diff.argmax(axis=0)
            tie_before = np.take_along_axis(seen_tie, first[None], axis=0)[0]
            unexplained += int((diff.any(axis=0) & ~tie_before).sum())
    return unexplained


def assert_exact(model, net, x, ties_allowed: bool = False) -> None:
    """Identical spikes per layer and timestep and identical predictions, every spiking layer firing;
    with ties_allowed, differences are accepted only where an exact tie of the integer run explains them."""
    result = agreement(model, net, x)
    assert result.samples >= 64
    model_out, logits = model_spikes(model, x)
    sim = simulate(net, input_codes(model_input_steps(model, x), net.input_step), record_ties=True)
    for a, b in zip(model_out, sim.spikes):
        assert a.shape == b.shape  # [T, B, ...]: per layer and timestep
        assert 0 < int(a.sum()) < a.size  # the layer fires, and not everywhere
    if not ties_allowed:
        assert result.spikes_differing == 0, result.per_layer_differing
        assert result.prediction_agreement == 1.0
    assert differences_not_at_ties(model_out, sim) == 0
    same = [i for i in range(x.shape[0]) if all(np.array_equal(a[:, i], b[:, i]) for a, b in zip(model_out, sim.spikes))]
    untied = [i for i in same if list(sim.logits[i]).count(max(sim.logits[i])) == 1]
    assert np.array_equal(sim.predictions[untied], logits.argmax(1)[untied])
    if result.spikes_differing:
        print(f"{model.candidate.summary()}: {result.spikes_differing} spikes differ, all after exact ties; "
              f"{x.shape[0] - len(same)} samples touched")


# ---------------------------------------------------------------- every type, static input (digits)


@pytest.mark.parametrize("name", list(MLP))
def test_integer_reference_equals_the_float64_model_at_F32(name, digits, batch):
    model = trained("mlp", name, digits)
    net = integer_network(model, DIGITS_STEP, scale_bits=32)
    form, neuron = FORMS[name]
    assert all(layer.weight_form == form for layer in net.layers)
    assert all(layer.neuron == neuron for layer in net.spiking_layers)
    assert_exact(model, net, batch)


def test_the_tie_check_is_not_vacuous(digits, batch):
    model = trained("mlp", "ternary-ttq", digits)
    net = integer_network(model, DIGITS_STEP, scale_bits=32)
    net.layers[0].multiplier_neg = net.layers[0].multiplier_neg * 2  # a wrong second multiplier
    model_out, _ = model_spikes(model, batch)
    sim = simulate(net, input_codes(batch, DIGITS_STEP), record_ties=True)
    assert differences_not_at_ties(model_out, sim) > 0


@pytest.mark.parametrize("name", list(MLP))
def test_hardware_scale_bits_agreement_is_reported(name, digits, batch):
    model = trained("mlp", name, digits)
    net = integer_network(model, DIGITS_STEP, scale_bits="auto")
    for layer in net.layers:
        assert max(abs(int(m)) for m in layer.all_multipliers()) < 2 ** (MULTIPLIER_BITS - 1)
        if layer.leak_multiplier is not None:
            assert abs(layer.leak_multiplier) < 2 ** (MULTIPLIER_BITS - 1)
    result = agreement(model, net, batch)
    print(f"{name}: auto F {[layer.scale_bits for layer in net.layers]}: differing spikes "
          f"{result.spikes_differing}/{result.spikes_total}, predictions equal {result.prediction_agreement:.4f}")
    assert result.spike_agreement > 0.99  # reported; the integer simulation at this F is the hardware's reference


@pytest.mark.parametrize("name", list(CONV))
def test_conv_nets_are_exact_at_F32(name, digits, batch):
    model = trained("conv", name, digits)
    net = integer_network(model, DIGITS_STEP, scale_bits=32)
    assert_exact(model, net, batch)


@pytest.mark.parametrize("name", list(MLP))
def test_npz_round_trip_keeps_the_form_and_the_spikes(name, digits, batch, tmp_path):
    model = trained("mlp", name, digits)
    net = integer_network(model, DIGITS_STEP, scale_bits="auto")
    back = read_npz(write_npz(net, tmp_path / "n.npz"))
    expected_version = 1 if net.standard_form else 2
    assert int(to_arrays(net)["format_version"]) == expected_version
    for a, b in zip(net.layers, back.layers):
        for key, value in vars(a).items():
            other = getattr(b, key)
            if isinstance(value, np.ndarray):
                assert np.array_equal(value, other), key
            else:
                assert value == other, key
    codes = input_codes(batch, DIGITS_STEP)
    one, two = simulate(net, codes), simulate(back, codes)
    assert all(np.array_equal(a, b) for a, b in zip(one.spikes, two.spikes))
    assert np.array_equal(one.logits, two.logits)


def test_a_plain_network_is_still_written_and_read_as_version_1(digits, tmp_path):
    net = integer_network(trained("mlp", "uniform", digits), DIGITS_STEP, scale_bits=32)
    arrays = to_arrays(net)
    assert int(arrays["format_version"]) == 1 and not any("weight_form" in k or "neuron" in k for k in arrays)
    back = read_npz(write_npz(net, tmp_path / "old.npz"))
    assert all(layer.weight_form == SCALED and layer.neuron == LIF for layer in back.layers)


# ---------------------------------------------------------------- event input (random binary frames)


@pytest.mark.parametrize("name", list(MLP))
def test_event_input_is_exact_at_F32(name):
    torch.manual_seed(1)
    base = MLP[name]
    candidate = Candidate(base.family, base.widths, base.weight_bits, base.membrane_bits, base.timesteps,
                          quantizer=base.quantizer, quantizer_options=base.quantizer_options,
                          input_shape=(2, 8, 8), input_kind="events")
    model = build_model(candidate).double()
    frames = (torch.rand(96, 6, 2, 8, 8) < 0.3).to(torch.uint8)  # 6 data frames re-binned to T = 4
    with torch.no_grad():
        for i, layer in enumerate(model.weight_layers[:-1]):
            layer.weight.mul_(3.0 if i == 0 else 2.0)  # untrained: make every layer fire
        for layer in model.weight_layers:  # TTQ: unequal positive and negative scales
            if isinstance(layer.quantizer, TTQWeightQuantizer):
                layer.quantizer._init_scales(layer.weight)
                q = layer.quantizer
                q.set_scales(float(q.w_p) * 1.5, float(q.w_n) * 0.75)
        model.train()
        model(frames[:32])  # Q-SNN: set the running membrane scale (and every lazily initialised scale)
    from spikingjelly.activation_based import functional

    functional.reset_net(model)
    model.eval()
    net = integer_network(model, 1.0, scale_bits=32)
    assert net.input_kind == "events"
    assert_exact(model, net, frames, ties_allowed=True)


# ---------------------------------------------------------------- Q-SNN: alpha is a frozen buffer


def test_qsnn_output_of_a_sample_does_not_depend_on_its_batch(digits):
    model = trained("mlp", "qsnn", digits)
    x = digits.test.x[:256].double()
    alphas = [float(n.alpha) for n in model.neurons]
    all_spikes, all_logits = model_spikes(model, x)
    for i in (0, 17, 255):
        spikes, logits = model_spikes(model, x[i : i + 1])
        for a, b in zip(spikes, all_spikes):
            assert np.array_equal(a[:, 0], b[:, i])
        assert np.allclose(logits[0], all_logits[i], rtol=0, atol=1e-12)
    assert [float(n.alpha) for n in model.neurons] == alphas  # eval never moves alpha
    # and the integer network (alpha frozen at export) gives sample i the same result alone and in the batch
    net = integer_network(model, DIGITS_STEP, 32)
    full = simulate(net, input_codes(x, DIGITS_STEP))
    alone = simulate(net, input_codes(x[17:18], DIGITS_STEP))
    assert all(np.array_equal(a[:, 0], b[:, 17]) for a, b in zip(alone.spikes, full.spikes))


def test_qsnn_alpha_is_a_running_average_of_the_training_batch_max():
    from dse.quantizers.qsnn import ALPHA_MOMENTUM, QSNNLIFNode

    node = QSNNLIFNode(4).double()
    assert float(node.alpha) == 1.0 and not bool(node.alpha_initialised)
    x1, x2 = torch.full((1, 2, 3), 0.3, dtype=torch.float64), torch.full((1, 2, 3), 0.6, dtype=torch.float64)
    node(x1)
    node.reset()
    assert float(node.alpha) == pytest.approx(np.tanh(0.3))  # the first update copies the batch max
    node(x2)
    node.reset()
    assert float(node.alpha) == pytest.approx((1 - ALPHA_MOMENTUM) * np.tanh(0.3) + ALPHA_MOMENTUM * np.tanh(0.6))
    node.eval()
    before = float(node.alpha)
    node(x2 * 3)
    node.reset()
    assert float(node.alpha) == before
    # a state dict written before alpha became a buffer still loads (alpha stays 1.0)
    fresh = QSNNLIFNode(4)
    state = {k: v for k, v in fresh.state_dict().items() if "alpha" not in k}
    fresh.load_state_dict(state, strict=True)
    assert float(fresh.alpha) == 1.0


def test_qsnn_level_thresholds_reproduce_the_tanh_staircase():
    # On a dense grid of H / 2^F the staircase count equals round(clamp(tanh(h) / alpha, -1, 1) L).
    alpha, bits, f = 0.8125, 4, 12
    levels = 2 ** (bits - 1) - 1
    b = qsnn_level_thresholds(alpha, bits, f)
    assert b.shape == (2 * levels,) and np.all(np.diff(b) > 0)
    h = np.arange(-4 * 2**f, 4 * 2**f + 1)
    from_table = np.searchsorted(b, h, side="right") - levels
    direct = np.rint(np.clip(np.tanh(h / 2**f) / alpha, -1, 1) * levels)
    assert np.array_equal(from_table, direct)


# ---------------------------------------------------------------- MFP and TTQ by hand


def test_mfp_integer_state_is_the_closed_form_scaled_by_2_to_the_k_t():
    # tau = 2 (k = 1), F = 0, M = 1, theta = 3: I = 2, 2, 2, -4. U_t = sum_{i<=t} 2^-(t-i) I_i / 2:
    # U = 1, 1.5, 1.75, -1.125 -> V_t = 2^(t+1) U_t = 2, 6, 14, -18; thresholds 3 x 2^(t+1) = 6, 12, 24, 48.
    hidden = IntegerLayer(
        name="layer0", kind="linear", codes=np.array([[1]], dtype=np.int8), weight_bits=2,
        weight_encoding="twos_complement", scale=np.array([1.0]), in_step=1.0, scale_bits=0,
        multiplier=np.array([1]), spiking=True, leak_shift=1, in_shape=(1,), out_shape=(1,), neuron=MFP,
        threshold_per_timestep=np.array([6, 12, 24, 48]), state_bits=mfp_state_bits(4, 1, 4),
    )
    readout = IntegerLayer(
        name="layer1", kind="linear", codes=np.array([[1]], dtype=np.int8), weight_bits=2,
        weight_encoding="twos_complement", scale=np.array([1.0]), in_step=1.0, scale_bits=0,
        multiplier=np.array([1]), spiking=False, in_shape=(1,), out_shape=(1,),
    )
    net = IntegerNetwork([hidden, readout], 4, (1, 1, 1), 1.0, 1, "mlp", 2.0, 3.0)
    frames = np.array([2, 2, 2, -4]).reshape(4, 1, 1, 1, 1)
    sim = simulate(net, frames)
    assert sim.spikes[0][:, 0, 0].tolist() == [0, 0, 0, 0]  # 1, 1.5, 1.75 < 3: no spike
    frames = np.array([8, 2, 2, -40]).reshape(4, 1, 1, 1, 1)  # U = 4, 3, 2.5, -18.75
    assert simulate(net, frames).spikes[0][:, 0, 0].tolist() == [1, 1, 0, 0]
    assert hidden.state_bits == 3 + 4 + 1  # |V_t| < 4 x 2^(k T): bitlen 3, + k T = 4, + sign


def test_mfp_thresholds_are_exact_powers_of_two_of_theta(digits):
    net = integer_network(trained("mlp", "mfp", digits), DIGITS_STEP, 32)
    layer = net.layers[0]
    assert layer.threshold_per_timestep.tolist() == [int(Fraction(net.v_threshold) * 2 ** (32 + t + 1)) for t in range(4)]
    assert layer.state_bits is not None and layer.state_bits > 32 + 4


def test_ttq_uses_two_multipliers(digits):
    model = trained("mlp", "ternary-ttq", digits)
    net = integer_network(model, DIGITS_STEP, 32)
    q = model.weight_layers[0].quantizer
    layer = net.layers[0]
    assert layer.weight_form == SIGN_SCALES and set(np.unique(layer.codes)) <= {-1, 0, 1}
    w_p, w_n = float(q.w_p.detach()), float(q.w_n.detach())
    assert np.all(layer.scale == w_p) and np.all(layer.scale_neg == w_n)
    assert w_p != w_n  # training moved the two scales apart: one multiplier could not do it
    assert int(layer.multiplier[0]) == round(Fraction(w_p) * Fraction(DIGITS_STEP) / Fraction(layer.membrane_step) * 2**32)


def test_ttq_with_log_scales_exports_exactly(digits, batch):
    """`scales: log` changes how the two scales are learned, not the integer form: a trained net's M and Mn
    are its exp(l_p), exp(l_n), and the integer run equals the model."""
    candidate = dataclasses.replace(MLP["ternary-ttq"], quantizer_options={**TTQ, "scales": "log"})
    model = train_candidate(candidate, digits, Fidelity(epochs=1), seed=0, device=torch.device("cpu")).model
    model = model.double().eval()
    q = model.weight_layers[0].quantizer
    assert q.scales == "log" and float(q.sign_p) == 1.0 and float(q.sign_n) == 1.0
    net = integer_network(model, DIGITS_STEP, 32)
    layer = net.layers[0]
    assert layer.weight_form == SIGN_SCALES
    assert np.all(layer.scale == float(torch.exp(q.scale_p.detach()))) and np.all(layer.scale_neg == float(torch.exp(q.scale_n.detach())))
    result = agreement(model, net, batch)
    assert result.spikes_differing == 0 and result.predictions_equal == result.samples


def test_ttq_with_both_scales_negative_flips_codes_and_stays_exact(batch):
    """Training with direct scales drove W_p and W_n below zero (seen in a digits-dvs study; the scales are
    learned as logarithms since, but such checkpoints load as they were); the integer form flips the
    codes and swaps the scales so M and Mn stay unsigned, and the auto F reads |scale|."""
    torch.manual_seed(3)
    model = build_model(MLP["ternary-ttq"]).double()
    with torch.no_grad():
        model.weight_layers[0].weight.mul_(3.0)
        for layer in model.weight_layers:
            layer.quantizer._init_scales(layer.weight)
        readout = model.weight_layers[-1].quantizer
        readout.set_scales(float(readout.w_p) * -1.5, float(readout.w_n) * -0.5)  # as an old checkpoint may hold
    model.eval()
    q_before = integer_network(model, DIGITS_STEP, 32)  # F = 32 on every layer
    layer = q_before.layers[-1]
    assert (layer.multiplier >= 0).all() and (layer.multiplier_neg >= 0).all()
    assert float(layer.scale[0]) == pytest.approx(-float(readout.w_n.detach()))
    assert float(layer.scale_neg[0]) == pytest.approx(-float(readout.w_p.detach()))
    # untrained, so near-equal logits abound: compare the logits themselves, not their argmax
    result = agreement(model, q_before, batch)
    assert result.spikes_differing == 0
    _, logits = model_spikes(model, batch)
    sim = simulate(q_before, input_codes(model_input_steps(model, batch), q_before.input_step))
    model_logits = np.asarray(logits, dtype=np.float64)
    nonzero = np.abs(model_logits) > 1e-9
    ratio = sim.logits.astype(np.float64)[nonzero] / model_logits[nonzero]  # one fixed-point scale, same signs
    assert ratio.min() > 0 and ratio.max() / ratio.min() - 1 < 1e-6
    hardware = integer_network(model, DIGITS_STEP, "auto")
    assert hardware.layers[-1].multiplier_bits <= 18


def test_ttq_with_scales_of_opposite_signs_is_refused_in_one_line():
    torch.manual_seed(3)
    model = build_model(MLP["ternary-ttq"]).double()
    with torch.no_grad():
        for layer in model.weight_layers:
            layer.quantizer._init_scales(layer.weight)
        readout = model.weight_layers[-1].quantizer
        readout.set_scales(-float(readout.w_p), float(readout.w_n))
    model.eval()
    with pytest.raises(UserError, match="opposite signs"):
        integer_network(model, DIGITS_STEP, "auto")


def test_consumers_of_the_plain_form_refuse_the_added_forms(digits, tmp_path):
    from dse.export.mem_format import write_memories

    for name in ("ternary-ttq", "tawq"):
        net = integer_network(trained("mlp", name, digits), DIGITS_STEP, "auto")
        with pytest.raises(UserError, match="form") as info:
            write_memories(net, tmp_path)
        assert "\n" not in str(info.value)
        with pytest.raises(UserError, match="LIF neurons only"):
            require_standard_form(net, "the Verilog template")
    require_standard_form(integer_network(trained("mlp", "uniform", digits), DIGITS_STEP, "auto"), "x")
