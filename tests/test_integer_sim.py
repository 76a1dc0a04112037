"""The integer reference simulation (docs/integer-semantics.md) against hand counts and the fake-quantized model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dse.errors import UserError
from dse.export.integer_network import (
    MULTIPLIER_BITS, IntegerLayer, IntegerNetwork, integer_network, leak_shift_of, multiplier, parse_scale_bits,
)
from dse.export.integer_sim import product_dtype, agreement, input_codes, round_half_even_shift, simulate
from dse.training.model import build_model
from dse.training.train import Fidelity, train_candidate
from search_spaces.candidate import Candidate

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def batch(digits):
    return digits.test.x[:128].double()


def trained(candidate: Candidate, digits) -> torch.nn.Module:
    """One epoch of the project's QAT, in float64 (the contract's reference precision)."""
    result = train_candidate(candidate, digits, Fidelity(epochs=1), seed=0, device=torch.device("cpu"))
    return result.model.double().eval()


# ---------------------------------------------------------------- the arithmetic by hand


@pytest.mark.parametrize("dtype", [np.int64, object])
def test_round_half_even_shift_matches_hand_values(dtype):
    values = np.array([5, 6, 7, -5, -6, -7, 12, 13, 14, 15, -2, 0], dtype=dtype)
    # /4: 1.25 1.5 1.75 -1.25 -1.5 -1.75 3 3.25 3.5 3.75 -0.5 0 -> half to even
    expected = [1, 2, 2, -1, -2, -2, 3, 3, 4, 4, 0, 0]
    assert [int(v) for v in round_half_even_shift(values, 2)] == expected


def test_round_half_even_shift_works_beyond_int64():
    big = np.array([3 * 2**70 + 2**69, 5 * 2**70 + 2**69], dtype=object)  # x.5 ties at 2^70
    assert [int(v) for v in round_half_even_shift(big, 70)] == [4, 6]


def _one_neuron_net(acc_code: int, mult: int, scale_bits: int, leak_shift: int, bits: int, steps: int) -> IntegerNetwork:
    hidden = IntegerLayer(
        name="layer0", kind="linear", codes=np.array([[1]], dtype=np.int8), weight_bits=2,
        weight_encoding="twos_complement", scale=np.array([1.0]), in_step=1.0, scale_bits=scale_bits,
        multiplier=np.array([mult]), spiking=True, membrane_bits=bits, threshold_lsb=2 ** (bits - 2),
        leak_shift=leak_shift, membrane_step=1.0, in_shape=(1,), out_shape=(1,),
    )
    readout = IntegerLayer(
        name="layer1", kind="linear", codes=np.array([[1], [-1]], dtype=np.int8), weight_bits=2,
        weight_encoding="twos_complement", scale=np.array([1.0, 1.0]), in_step=1.0, scale_bits=0,
        multiplier=np.array([3, 1]), spiking=False, in_shape=(1,), out_shape=(2,),
    )
    return IntegerNetwork([hidden, readout], steps, (1, 1, 1), 1.0, 2, "mlp", 2.0**leak_shift, 1.0)


def test_one_neuron_follows_the_contract_step_by_step():
    # b = 4: threshold 4 LSBs, range -8..7; k = 1, F = 0, M = 3, input code 2 -> acc x M = 6 every step.
    # t0: H = 0 + 6 = 6 -> h = 3 (no spike); t1: H = 3 + 6 = 9 -> 4.5 -> 4 (half to even) -> spike, m = 0;
    # t2: 3; t3: spike. Readout: 2 spikes x codes (1, -1) x M (3, 1) -> logits (6, -2), class 0.
    net = _one_neuron_net(acc_code=2, mult=3, scale_bits=0, leak_shift=1, bits=4, steps=4)
    sim = simulate(net, np.array([[[[2]]]]))
    assert sim.spikes[0][:, 0, 0].tolist() == [0, 1, 0, 1]
    assert [int(v) for v in sim.logits[0]] == [6, -2]
    assert sim.predictions.tolist() == [0]


def test_membrane_saturates_at_the_register_range():
    # b = 4 (range -8..7), k = 0 (tau = 1: h = x), input code -2, M = 40: h = -80 -> clamped to -8, never spikes.
    net = _one_neuron_net(acc_code=-2, mult=40, scale_bits=0, leak_shift=0, bits=4, steps=3)
    sim = simulate(net, np.array([[[[-2]]]]))
    assert sim.spikes[0].sum() == 0
    assert [int(v) for v in sim.logits[0]] == [0, 0]  # no spikes reach the readout; tie -> class 0
    assert sim.predictions.tolist() == [0]


def test_multiplier_is_exact_rounding_of_the_rational_value():
    # s = 0.3 (a float), in_step 1/4, step 1/64, F = 10: 0.3 * 16 * 1024 = 4915.2 -> 4915
    assert multiplier(0.3, 0.25, 1 / 64, 10) == 4915
    assert multiplier(0.5, 1.0, 1.0, 1) == 1  # 1.0 exactly
    assert multiplier(0.75, 1.0, 1.0, 1) == 2  # 1.5 -> 2 (half to even)
    assert multiplier(0.25, 1.0, 1.0, 1) == 0  # 0.5 -> 0 (half to even)


def test_tau_must_be_a_power_of_two():
    assert leak_shift_of(1.0) == 0 and leak_shift_of(2.0) == 1 and leak_shift_of(8.0) == 3
    with pytest.raises(UserError, match="power of two"):
        leak_shift_of(3.0)


def test_scale_bits_parsing():
    assert parse_scale_bits("auto") == "auto" and parse_scale_bits("32") == 32
    for bad in ("-1", "63", "x"):
        with pytest.raises(UserError, match="scale bits"):
            parse_scale_bits(bad)


def test_input_codes_refuse_values_off_the_grid():
    assert input_codes(torch.tensor([0.0, 0.25, 4.0]), 0.25).tolist() == [0, 1, 16]
    with pytest.raises(UserError, match="input step"):
        input_codes(torch.tensor([0.1]), 0.25)


# ---------------------------------------------------------------- against the fake-quantized model

EXACT_CASES = [
    Candidate("mlp", (32,), (4, 4), (6,), 4),  # multi-bit
    Candidate("mlp", (24, 16), (1, 2, 8), (4, 12), 3),  # 1-bit sign weights, two membrane widths
    Candidate("mlp", (16,), (1, 1), (16,), 2, tau=4.0),  # 1-bit everywhere, 16-bit membrane, leak shift 2
    Candidate("conv", (4, 8), (4, 2, 4), (8, 6), 2, pooling=("avg", "max")),  # conv: sum pool and OR pool
    Candidate("conv", (4,), (1, 1), (5,), 3, pooling=("none",)),  # 1-bit conv, 5-bit membrane
    Candidate("mlp", (16,), (2, 2), (6,), 3, quantizer="ternary"),  # TWN: codes x one scale
    Candidate("mlp", (16,), (2, 4), (8,), 3, quantizer="sigmoid"),  # odd levels x alpha
]


@pytest.mark.parametrize("candidate", EXACT_CASES, ids=lambda c: c.summary())
def test_integer_simulation_equals_the_float64_model_spike_for_spike(candidate, digits, batch):
    model = trained(candidate, digits)
    net = integer_network(model, digits_step(), scale_bits=32)
    result = agreement(model, net, batch)
    assert result.spikes_total > 0
    assert result.spikes_differing == 0, result.per_layer_differing
    assert result.prediction_agreement == 1.0


def digits_step() -> float:
    return 0.25  # digits pixels are k/16 x 4


def test_python_int_path_beyond_int64_is_exact_too(digits, batch):
    # F = 46 with a 16-bit membrane: the bound on acc x M passes 2^62, so the simulation uses Python ints.
    model = trained(Candidate("mlp", (16,), (8, 8), (16,), 2), digits)
    net = integer_network(model, digits_step(), scale_bits=46)
    assert product_dtype(net.layers[0], 16) is object
    result = agreement(model, net, batch)
    assert result.spikes_differing == 0 and result.prediction_agreement == 1.0


def test_hardware_scale_bits_fit_18_bit_multipliers_and_agreement_is_reported(digits, batch):
    model = trained(EXACT_CASES[3], digits)
    net = integer_network(model, digits_step(), scale_bits="auto")
    for layer in net.layers:
        assert int(layer.multiplier.max()) < 2 ** (MULTIPLIER_BITS - 1) <= 2 * int(layer.multiplier.max())
    result = agreement(model, net, batch)
    print(f"auto F {[l.scale_bits for l in net.layers]}: spike agreement {result.spike_agreement:.6f}, "
          f"prediction agreement {result.prediction_agreement:.4f}")
    assert result.spike_agreement > 0.95  # reported, not asserted equal (docs/export.md has the measurements)


@pytest.mark.parametrize("candidate, match", [
    (Candidate("mlp", (16,), (None, 4), (6,), 2), "layer0 has full-precision"),
    (Candidate("mlp", (16,), (4, 4), (None,), 2), "layer0 has a full-precision .fp. membrane"),
    (Candidate("mlp", (16,), (4, 4), (6,), 2, tau=3.0), "tau 3 has no integer form"),
    (Candidate("mlp", (16, 16), (8, 1, 8), (None, 6), 2, quantizer="qsnn"), "layer0 has a full-precision"),
    (Candidate("mlp", (16,), (4, 4), (None,), 2, quantizer="mfp", tau=3.0), "tau 3 has no integer form"),
], ids=["fp-weights", "fp-membrane", "tau3", "qsnn-fp-membrane", "mfp-tau3"])
def test_configurations_without_an_exact_integer_form_are_refused_in_one_line(candidate, match):
    model = build_model(candidate).double().eval()
    with pytest.raises(UserError, match=match) as info:
        integer_network(model, digits_step(), scale_bits=32)
    assert "\n" not in str(info.value)


@pytest.mark.skipif("input_kind" not in Candidate.__dataclass_fields__, reason="event inputs not in this tree")
def test_event_input_reads_one_frame_per_timestep():
    from dse.export.integer_sim import model_spikes

    torch.manual_seed(0)
    candidate = Candidate("mlp", (32,), (4, 4), (6,), 4, input_shape=(2, 8, 8), input_kind="events")
    model = build_model(candidate).double().eval()
    with torch.no_grad():
        model.weight_layers[0].weight.mul_(3)  # untrained: make layer 0 fire
    frames = (torch.rand(64, 6, 2, 8, 8) < 0.3).to(torch.uint8)  # 6 data frames re-binned to T = 4
    net = integer_network(model, 1.0, scale_bits=32)
    assert net.input_kind == "events"
    assert sum(int(s.sum()) for s in model_spikes(model, frames)[0]) > 0
    result = agreement(model, net, frames)
    assert result.spikes_differing == 0 and result.prediction_agreement == 1.0
