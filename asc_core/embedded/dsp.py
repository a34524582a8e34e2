"""Small signal-processing building blocks for the embedded dataset (numpy/scipy, 32 kHz).

scipy.signal designs and runs the filters; what is hand-written here is only glue that no library
offers as one call: FFT noise shaping, an RBJ peaking EQ, a feed-forward compressor (AGC) and a
stochastic room impulse response (see ``room_ir``).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from asc_core.constants import SAMPLE_RATE as SR  # noqa: E402


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2) + 1e-20))


def normalize(x: np.ndarray) -> np.ndarray:
    return x / rms(x)


def db(x: float) -> float:
    return 10 ** (x / 20)


def shaped_noise(
    rng: np.random.Generator,
    n: int,
    tilt_db_oct: float = -3.0,
    low_hz: float = 20.0,
    high_hz: float = 15000.0,
    peaks: tuple = (),
) -> np.ndarray:
    """Gaussian noise with a spectral envelope: a tilt in dB/octave, band edges and (freq, gain_db, width_oct) peaks."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    gain_db = tilt_db_oct * np.log2(f / 1000.0)
    for pf, pg, pw in peaks:
        gain_db += pg * np.exp(-0.5 * (np.log2(f / pf) / pw) ** 2)
    g = db(1) * 10 ** (gain_db / 20)
    g *= 1 / (1 + (low_hz / f) ** 4) / (1 + (f / high_hz) ** 8)
    return normalize(np.fft.irfft(spec * g, n))


def smooth_envelope(rng: np.random.Generator, n: int, rate_hz: float, depth: float) -> np.ndarray:
    """Slow random amplitude modulation 1 ± depth with a bandwidth around ``rate_hz``."""
    k = max(4, int(n / SR * rate_hz * 2) + 4)
    pts = rng.standard_normal(k)
    env = np.interp(np.linspace(0, k - 1, n), np.arange(k), pts)
    env = env / (np.abs(env).max() + 1e-9)
    return np.clip(1 + depth * env, 0.05, None)


def butter(x: np.ndarray, kind: str, cutoff, order: int = 2) -> np.ndarray:
    nyq = SR / 2
    c = np.atleast_1d(cutoff) / nyq
    c = np.clip(c, 1e-4, 0.999)
    sos = signal.butter(order, c if kind in ("bandpass", "bandstop") else c[0], btype=kind, output="sos")
    return signal.sosfilt(sos, x)


def peaking_sos(f0: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ audio-EQ-cookbook peaking filter as one second-order section."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / SR
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a])
    aa = np.array([1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a])
    return np.concatenate([b / aa[0], aa / aa[0]])[None, :]


def harmonic_tone(
    rng: np.random.Generator,
    n: int,
    f0: float,
    n_harm: int,
    rolloff_db: float,
    wander: float = 0.01,
    wander_hz: float = 0.3,
) -> np.ndarray:
    """A harmonic source whose fundamental wanders slowly (engines, hum, motors, voices).

    A sawtooth (all harmonics, -6 dB/octave) low-passed near ``f0 * n_harm`` or where the per-harmonic
    roll-off reaches ~12 dB: one vectorised call instead of a sum of sines.
    """
    f_inst = f0 * smooth_envelope(rng, n, wander_hz, wander)
    phase = 2 * np.pi * np.cumsum(f_inst) / SR + rng.uniform(0, 2 * np.pi)
    x = 2 * np.mod(phase / (2 * np.pi), 1.0) - 1
    cutoff = f0 * max(1.5, min(n_harm, 12.0 / max(rolloff_db, 0.5)))
    if cutoff < SR / 2 - 1000:
        x = butter(x, "lowpass", cutoff, order=2)
    return normalize(x)


def place(dst: np.ndarray, src: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Add ``src`` into ``dst`` from ``start`` on, clipped to the buffer."""
    if start >= len(dst) or start + len(src) <= 0:
        return
    a = max(0, start)
    b = min(len(dst), start + len(src))
    dst[a:b] += gain * src[a - start : b - start]


def decay(n: int, tau_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau_s * SR))


def room_ir(rng: np.random.Generator, rt60_s: float, drr_db: float, early: int = 6) -> np.ndarray:
    """A stochastic room impulse response (Polack's model): a direct path, a few early reflections
    and an exponentially decaying Gaussian tail whose decay is faster at high frequencies.

    Hand-written because an image-source simulator (pyroomacoustics) needs thousands of images per
    response for the 1.5–3 s reverberation times of halls and costs seconds per response; the
    statistical tail is the standard model of late reverberation and costs milliseconds.
    """
    n = int(min(rt60_s * 1.2, 3.5) * SR) + 1
    t = np.arange(n) / SR
    tail = np.zeros(n)
    # Frequency-dependent decay: low band decays at rt60, high band 2x faster.
    for lo, hi, factor in ((20, 500, 1.0), (500, 2000, 0.85), (2000, 6000, 0.65), (6000, 15500, 0.45)):
        band = butter(rng.standard_normal(n), "bandpass", (lo, hi), order=2)
        tail += band * np.exp(-6.9 * t / (rt60_s * factor))
    onset = int(0.003 * SR)
    tail[:onset] = 0
    tail /= np.sqrt(np.sum(tail**2)) + 1e-12
    ir = tail * db(-drr_db)
    ir[0] += 1.0
    for _ in range(early):
        d = int(rng.uniform(0.002, 0.04) * SR)
        if d < n:
            ir[d] += rng.uniform(0.2, 0.6) * rng.choice([-1, 1])
    return ir / np.sqrt(np.sum(ir**2))


def reverb(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    return signal.fftconvolve(x, ir)[: len(x)]


def compressor(
    x: np.ndarray, threshold_db: float, ratio: float, attack_s: float, release_s: float, makeup_db: float = 0.0
) -> np.ndarray:
    """Feed-forward RMS compressor (a phone's AGC): one-pole level detector, static gain curve."""
    level = np.sqrt(
        signal.lfilter([1 - np.exp(-1 / (release_s * SR))], [1, -np.exp(-1 / (release_s * SR))], x**2) + 1e-12
    )
    # attack: a faster detector for rising levels
    fast = np.sqrt(signal.lfilter([1 - np.exp(-1 / (attack_s * SR))], [1, -np.exp(-1 / (attack_s * SR))], x**2) + 1e-12)
    level = np.maximum(level, fast)
    level_db = 20 * np.log10(level)
    over = np.maximum(level_db - threshold_db, 0)
    gain_db = -over * (1 - 1 / ratio) + makeup_db
    return x * 10 ** (gain_db / 20)
