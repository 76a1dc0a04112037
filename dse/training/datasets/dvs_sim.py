"""A simulated dynamic vision sensor: log-intensity change against a per-pixel reference.

Each pixel keeps a reference log intensity. When the current log intensity has moved by at
least the pixel's contrast threshold C above (below) it, the pixel emits ON (OFF) events, one
per threshold crossed, and the reference moves by that many C (the model of Lichtsteiner et
al. 2008 and of v2e's ideal pixel, without bandwidth limits or refractory period). Thresholds
differ from pixel to pixel (Gaussian mismatch); background-activity noise adds events at a
fixed rate. Polarity channel 0 is OFF, 1 is ON, as tonic's ToFrame orders p = 0, 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OFF, ON = 0, 1
MAX_COUNT = 250  # events per pixel and step are clipped here so uint8 noise additions never wrap


@dataclass(frozen=True)
class DvsSensor:
    """Pixel parameters: contrast threshold (log units), its mismatch, noise and the dark floor."""

    threshold: float = 0.25  # typical DVS contrast threshold: 15-30 % change (Lichtsteiner 2008)
    threshold_sigma: float = 0.03  # pixel-to-pixel threshold mismatch (standard deviation)
    min_threshold: float = 0.05  # clip of the mismatch draw: no pixel fires on every flicker
    noise_rate: float = 0.001  # background events per pixel, polarity and simulation step
    dark_intensity: float = 0.05  # intensity of the unlit background (scene intensities lie in [dark, 1])

    def thresholds(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Per-pixel ON and OFF thresholds [2, *shape] (one camera: the same for every sample)."""
        c = rng.normal(self.threshold, self.threshold_sigma, size=(2, *shape))
        return np.maximum(c, self.min_threshold).astype(np.float32)


def simulate_dvs(intensity: np.ndarray, sensor: DvsSensor, rng: np.random.Generator) -> np.ndarray:
    """Event counts [N, S, 2, H, W] (uint8, channel 0 OFF, 1 ON) from intensities [S + 1, N, H, W].

    intensity[0] is the scene the sensor has adapted to (its reference); step s's events are
    those that moving from intensity[s] to intensity[s + 1] triggers. Intensities lie in [0, 1]
    and are lifted to the sensor's dark floor before the log.
    """
    if intensity.ndim != 4 or intensity.shape[0] < 2:
        raise ValueError(f"intensity must be [steps + 1, N, H, W], got shape {intensity.shape}")
    steps, n, h, w = intensity.shape[0] - 1, *intensity.shape[1:]
    dark = sensor.dark_intensity
    log_i = np.log(dark + (1.0 - dark) * np.clip(intensity, 0.0, 1.0)).astype(np.float32)
    c_off, c_on = sensor.thresholds((h, w), rng)
    reference = log_i[0].copy()
    counts = np.zeros((n, steps, 2, h, w), dtype=np.uint8)
    for s in range(steps):
        change = log_i[s + 1] - reference
        n_on = np.floor(np.maximum(change, 0.0) / c_on)
        n_off = np.floor(np.maximum(-change, 0.0) / c_off)
        reference += n_on * c_on - n_off * c_off
        counts[:, s, ON] = np.minimum(n_on, MAX_COUNT)
        counts[:, s, OFF] = np.minimum(n_off, MAX_COUNT)
    _add_noise(counts, sensor.noise_rate, rng)
    return counts


def _add_noise(counts: np.ndarray, rate: float, rng: np.random.Generator) -> None:
    """Background activity: each (sample, step, polarity, pixel) gets an extra event with probability rate."""
    if rate <= 0:
        return
    flat = counts.reshape(-1)
    n_noise = rng.binomial(flat.size, rate)
    where = rng.integers(0, flat.size, size=n_noise)
    np.add.at(flat, where, 1)
