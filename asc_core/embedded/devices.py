"""Recording devices of the embedded dataset, modelled on TAU22 Mobile.

``a`` is the reference recorder (flat, quiet). ``b`` and ``c`` are consumer phones recorded in parallel
with ``a``: high-pass, low-pass by a lower internal sample rate, a mic resonance, AGC, codec-like
band-limiting. ``s1``–``s6`` are simulated devices (TAU made them by filtering device-a audio with
mobile-device impulse responses and compressing); ``s4``–``s6`` are never in training and differ more
(a narrow-band phone, a bright tinny speakerphone-like mic, a boomy clipped device with hum).
Every device's parameters are fixed (the same device in every city); only its noise is random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from asc_core.embedded.dsp import SR, compressor, db, peaking_sos


@dataclass(frozen=True)
class Device:
    name: str
    highpass_hz: float = 20.0
    lowpass_hz: float = 15500.0
    internal_sr: int = SR  # resampled to this rate and back (band-limiting, aliasing filters)
    peaks: tuple = ()  # (freq_hz, gain_db, q)
    gain_db: float = 0.0
    agc: tuple | None = None  # (threshold_db, ratio, attack_s, release_s, makeup_db)
    clip: float | None = None  # soft-clip level
    noise_dbfs: float = -90.0
    hum_hz: float = 0.0
    hum_dbfs: float = -100.0
    order: int = 2


DEVICES: dict[str, Device] = {
    "a": Device("a"),
    "b": Device(
        "b",
        highpass_hz=150,
        lowpass_hz=10500,
        internal_sr=22050,
        peaks=((3500, 6, 2.0), (900, -3, 1.0)),
        gain_db=-3,
        agc=(-32, 3.0, 0.01, 0.4, 6),
        noise_dbfs=-68,
        order=3,
    ),
    "c": Device(
        "c",
        highpass_hz=200,
        lowpass_hz=9000,
        internal_sr=22050,
        peaks=((2000, 4, 1.5), (5200, -4, 2.5)),
        gain_db=2,
        agc=(-28, 3.0, 0.005, 0.3, 6),
        clip=0.8,
        noise_dbfs=-66,
        order=2,
    ),
    "s1": Device(
        "s1",
        highpass_hz=100,
        lowpass_hz=12000,
        peaks=((2500, 5, 1.2), (7000, 4, 2.0)),
        agc=(-30, 2.5, 0.01, 0.5, 4),
        noise_dbfs=-72,
    ),
    "s2": Device(
        "s2",
        highpass_hz=250,
        lowpass_hz=10000,
        peaks=((1200, 4, 1.0), (4000, -4, 1.5)),
        gain_db=-4,
        agc=(-34, 3.0, 0.02, 0.6, 6),
        noise_dbfs=-70,
        order=3,
    ),
    "s3": Device(
        "s3",
        highpass_hz=180,
        lowpass_hz=13000,
        peaks=((600, -4, 1.0), (3000, 3, 1.0), (9000, 6, 3.0)),
        gain_db=1,
        agc=(-26, 2.0, 0.01, 0.3, 3),
        noise_dbfs=-75,
    ),
    # unseen devices: plausible, but unlike any training device
    "s4": Device(
        "s4",
        highpass_hz=300,
        lowpass_hz=5000,
        internal_sr=11025,
        peaks=((1500, 6, 1.5),),
        gain_db=3,
        agc=(-30, 5.0, 0.005, 0.2, 10),
        noise_dbfs=-58,
        order=4,
    ),
    "s5": Device(
        "s5",
        highpass_hz=500,
        lowpass_hz=14000,
        peaks=((5500, 7, 1.2), (2200, -5, 1.0)),
        gain_db=-2,
        agc=(-36, 3.0, 0.01, 0.5, 6),
        noise_dbfs=-66,
        order=3,
    ),
    "s6": Device(
        "s6",
        highpass_hz=60,
        lowpass_hz=7000,
        internal_sr=16000,
        peaks=((250, 7, 1.0), (1800, -5, 1.0)),
        gain_db=6,
        clip=0.45,
        noise_dbfs=-62,
        hum_hz=50,
        hum_dbfs=-52,
    ),
}


def record(x: np.ndarray, device: str | Device, rng: np.random.Generator) -> np.ndarray:
    """The reference signal ``x`` (device a's acoustic input) as captured by ``device``."""
    d = DEVICES[device] if isinstance(device, str) else device
    y = x * db(d.gain_db)
    if d.internal_sr != SR:
        from math import gcd

        g = gcd(SR, d.internal_sr)
        up, down = d.internal_sr // g, SR // g
        y = signal.resample_poly(signal.resample_poly(y, up, down), down, up)[: len(x)]
        y = np.pad(y, (0, len(x) - len(y)))
    sos = [signal.butter(d.order, d.highpass_hz / (SR / 2), "highpass", output="sos")]
    if d.lowpass_hz < SR / 2 - 100:
        sos.append(signal.butter(d.order + 2, d.lowpass_hz / (SR / 2), "lowpass", output="sos"))
    sos += [peaking_sos(f, g, q) for f, g, q in d.peaks]
    y = signal.sosfilt(np.concatenate(sos), y)
    if d.agc:
        y = compressor(y, *d.agc)
    t = np.arange(len(y)) / SR
    if d.hum_hz:
        y += db(d.hum_dbfs) * (np.sin(2 * np.pi * d.hum_hz * t) + 0.5 * np.sin(2 * np.pi * 3 * d.hum_hz * t))
    y += db(d.noise_dbfs) * rng.standard_normal(len(y))
    if d.clip:
        y = d.clip * np.tanh(y / d.clip)
    return np.clip(y, -1.0, 1.0)
