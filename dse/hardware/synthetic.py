"""Random integer networks of a given shape, for Verilog tests and the synthesis grid (no training).

Codes are uniform over the W-bit grid and the per-channel scales are drawn so that a layer's
typical input current is about the threshold: the neurons fire, so neither the simulation nor
synthesis sees a network that a tool could optimise away. The multipliers use the export's own
rules (dse/export/integer_network.py: `auto_scale_bits`, `multiplier`).
"""

from __future__ import annotations

import math

import numpy as np

from dse.export.integer_network import (
    ODD_LEVELS, TWOS_COMPLEMENT, IntegerLayer, IntegerNetwork, auto_scale_bits, multiplier,
)

DIGITS_IN_STEP = 0.25  # layer 0 codes 0..16 stand for 0..4 (dse/export/integer_network.py INPUT_STEPS)


def _codes(rng: np.random.Generator, bits: int, shape: tuple[int, int]) -> tuple[np.ndarray, str, int]:
    """Random codes of a `bits`-bit grid, their encoding and the largest |code|."""
    if bits == 1:
        return rng.choice([-1, 1], size=shape).astype(np.int64), ODD_LEVELS, 1
    qmax = 2 ** (bits - 1) - 1
    return rng.integers(-qmax, qmax + 1, size=shape).astype(np.int64), TWOS_COMPLEMENT, qmax


def random_integer_network(
    sizes: tuple[int, ...], weight_bits: tuple[int, ...], membrane_bits: tuple[int, ...],
    parallelism: tuple[int, ...], timesteps: int = 4, seed: int = 0, tau: float = 2.0,
    v_threshold: float = 1.0, scale_bits: int | str = "auto", in_step: float = DIGITS_IN_STEP,
) -> IntegerNetwork:
    """An MLP sizes[0] -> ... -> sizes[-1] in integer form; per weight layer bits and P."""
    rng = np.random.default_rng(seed)
    n_layers = len(sizes) - 1
    k = int(round(math.log2(tau)))
    layers = []
    step_in = in_step
    for i in range(n_layers):
        n_in, n_out = sizes[i], sizes[i + 1]
        spiking = i < n_layers - 1
        codes, encoding, qmax = _codes(rng, weight_bits[i], (n_out, n_in))
        # typical |current| of a random +-qmax sum over ~sqrt(active inputs) is about v_threshold
        active = n_in * (0.5 if i == 0 else 0.2)
        typical_input = 8.0 * in_step if i == 0 else 1.0
        scale = v_threshold / (qmax * math.sqrt(max(active, 1.0)) * typical_input) * rng.uniform(0.8, 2.5, n_out)
        if spiking:
            b = membrane_bits[i]
            step = v_threshold / 2 ** (b - 2)
        else:
            b, step = None, 1.0
        f = auto_scale_bits(scale, step_in, step) if scale_bits == "auto" else int(scale_bits)
        m = np.array([multiplier(float(s), step_in, step, f) for s in scale], dtype=np.int64)
        layers.append(IntegerLayer(
            name=f"layer{i}", kind="linear", codes=codes, weight_bits=weight_bits[i], weight_encoding=encoding,
            scale=scale.astype(np.float64), in_step=step_in, scale_bits=f, multiplier=m, spiking=spiking,
            membrane_bits=b, threshold_lsb=2 ** (b - 2) if spiking else None, leak_shift=k if spiking else None,
            membrane_step=step if spiking else None, in_shape=(n_in,), out_shape=(n_out,),
            parallelism=parallelism[i],
        ))
        step_in = 1.0
    return IntegerNetwork(
        layers=layers, timesteps=timesteps, input_shape=(1, 1, sizes[0]), input_step=in_step,
        num_classes=sizes[-1], family="mlp", tau=tau, v_threshold=v_threshold,
    )


def random_input_codes(n_inputs: int, batch: int, seed: int = 0, high: int = 16) -> np.ndarray:
    """Digits-like layer-0 codes 0..high, about half of them zero."""
    rng = np.random.default_rng(seed + 1000)
    codes = rng.integers(0, high + 1, size=(batch, n_inputs))
    codes[rng.random((batch, n_inputs)) < 0.5] = 0
    return codes.astype(np.int64)
