"""Sound layers of urban scenes: background textures and foreground events.

Every function takes a numpy Generator and a length in samples (32 kHz) and returns a float array of
that length at roughly unit RMS while active, so a scene recipe sets the levels. Physically motivated,
cheap: shaped noise, harmonic sources, resonant impacts, formant-filtered pulse trains.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from asc_core.embedded.dsp import SR, butter, db, decay, harmonic_tone, normalize, place, shaped_noise, smooth_envelope

# Vowel formant sets (F1, F2 in Hz) standing in for languages of different cities.
FORMANT_SETS = (
    ((730, 1090), (270, 2290), (300, 870), (530, 1840), (570, 840)),
    ((660, 1700), (390, 1990), (440, 1020), (490, 1350), (310, 2200)),
    ((750, 1300), (350, 2400), (380, 950), (600, 1500), (450, 1150)),
)


def _times(rng: np.random.Generator, n: int, rate_hz: float, min_len: int = 0) -> np.ndarray:
    """Poisson event onsets over the buffer (may start before 0 so events can be cut at the edge)."""
    dur = (n + min_len) / SR
    k = rng.poisson(max(rate_hz, 0) * dur)
    return (rng.uniform(0, dur, k) * SR).astype(int) - min_len


# ------------------------------------------------------------------ textures
def hvac(rng, n, f0=60.0, tilt=-4.0):
    """Broadband ventilation noise with a mains/fan hum."""
    return normalize(shaped_noise(rng, n, tilt, 40, 9000) + 0.5 * harmonic_tone(rng, n, f0, 5, 6, 0.002))


def rumble(rng, n, cutoff=120.0, mod_hz=0.5, depth=0.4):
    """Very low, slowly modulated noise: tunnels, trains, distant traffic."""
    x = butter(shaped_noise(rng, n, -6, 15, 4000), "lowpass", cutoff, order=4)
    return normalize(x * smooth_envelope(rng, n, mod_hz, depth))


def wind(rng, n, cutoff=700.0):
    """Wind in leaves: high-passed noise with slow gusts."""
    x = butter(shaped_noise(rng, n, -2, 200, 12000), "highpass", cutoff)
    return normalize(x * smooth_envelope(rng, n, 0.4, 0.8))


def fountain(rng, n):
    x = butter(shaped_noise(rng, n, -1, 300, 14000), "highpass", 400)
    return normalize(x * smooth_envelope(rng, n, 6.0, 0.3))


def music(rng, n, root=220.0):
    """Soft background music: slow chords of a few harmonic tones."""
    out = np.zeros(n)
    chord_len = int(rng.uniform(1.5, 3.0) * SR)
    ratios = ((1, 1.26, 1.5), (1.12, 1.4, 1.68), (0.84, 1.0, 1.26), (0.94, 1.19, 1.41))
    for i, start in enumerate(range(0, n, chord_len)):
        seg = min(chord_len, n - start)
        t = np.arange(seg) / SR
        env = np.minimum(1, t / 0.1) * np.exp(-t / 2.5)
        for r in ratios[(i + rng.integers(4)) % 4]:
            f = root * r
            out[start : start + seg] += env * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t))
    return normalize(butter(out, "lowpass", 4000))


def _talkers(rng, n, f0s, formants, rates, gains):
    """Talkers: harmonic sources gated syllable by syllable onto vowels, each vowel's formant pair
    applied once to the sum of everything sent to it (linear, so 10 filters for any crowd size)."""
    per_vowel = np.zeros((len(formants), n))
    for f0, rate, g in zip(f0s, rates, gains):
        src = harmonic_tone(rng, n, f0, 30, 1.2, wander=0.08, wander_hz=2.0)
        syl = int(SR / rate)
        k = n // syl + 1
        choice = rng.integers(len(formants), size=k)
        active = rng.random(k) < 0.75
        gate = np.repeat(active, syl)[:n].astype(float)
        gate = uniform_filter1d(gate, int(0.02 * SR))
        vowel = np.repeat(choice, syl)[:n]
        for v in range(len(formants)):
            per_vowel[v] += g * src * gate * (vowel == v)
    out = np.zeros(n)
    for v, (f1, f2) in enumerate(formants):
        out += butter(per_vowel[v], "bandpass", (f1 * 0.8, f1 * 1.2)) + 0.6 * butter(
            per_vowel[v], "bandpass", (f2 * 0.88, f2 * 1.12)
        )
    return normalize(out + 1e-6 * rng.standard_normal(n))


def voice(rng, n, f0=140.0, formants=FORMANT_SETS[0], rate=4.5):
    """One talker."""
    return _talkers(rng, n, [f0], formants, [rate], [1.0])


def babble(rng, n, voices=8, f0_scale=1.0, formant_set=0):
    """Many overlapping talkers at a distance."""
    f0s = [(rng.uniform(95, 140) if rng.random() < 0.5 else rng.uniform(170, 250)) * f0_scale for _ in range(voices)]
    out = _talkers(rng, n, f0s, FORMANT_SETS[formant_set], rng.uniform(3.5, 5.5, voices), rng.uniform(0.4, 1.0, voices))
    return normalize(butter(out, "lowpass", 5000))


# ------------------------------------------------------------------ events
def footsteps(rng, n, rate=1.8, bright=1.0, density=1.0):
    """Walkers: trains of short damped noise bursts (heel strikes)."""
    out = np.zeros(n)
    walkers = max(1, rng.poisson(2 * density))
    for _ in range(walkers):
        period = 1 / rng.uniform(rate * 0.8, rate * 1.2)
        start = rng.uniform(-3, n / SR)
        length = rng.uniform(2, 8)
        gain = rng.uniform(0.3, 1)
        t = start
        while t < start + length:
            m = int(0.05 * SR)
            step = rng.standard_normal(m) * decay(m, 0.012)
            place(out, step, int(t * SR), gain)
            t += period * rng.uniform(0.95, 1.05)
    out = butter(out, "bandpass", (80, 2500 * bright))
    return normalize(out + 1e-6 * rng.standard_normal(n))


def pass_by(rng, n, rate=0.3, heavy=0.3, cutoff=1200.0):
    """Vehicles passing: low-passed tyre/engine noise with a bell envelope and a Doppler-gliding engine tone."""
    out = np.zeros(n)
    for start in _times(rng, n, rate, int(3 * SR)):
        dur = rng.uniform(2, 5)
        m = int(dur * SR)
        t = np.arange(m) / SR
        env = np.exp(-0.5 * ((t - dur / 2) / (dur / 6)) ** 2)
        noise = butter(rng.standard_normal(m), "lowpass", cutoff * rng.uniform(0.7, 1.4))
        f0 = rng.uniform(25, 45) if rng.random() < heavy else rng.uniform(40, 90)
        doppler = 1 + 0.06 * np.tanh((dur / 2 - t) * 2)
        tone = sum(db(-4 * h) * np.sin(2 * np.pi * f0 * (h + 1) * np.cumsum(doppler) / SR) for h in range(6))
        place(out, env * (noise / (np.std(noise) + 1e-9) + 0.5 * tone), start, rng.uniform(0.4, 1.0))
    return normalize(out + 1e-6 * rng.standard_normal(n))


def rail(rng, n, rate=1.5, ring=250.0):
    """Rail joints: pairs of resonant impacts as bogies cross them."""
    out = np.zeros(n)
    period = 1 / rate
    t = rng.uniform(0, period)
    m = int(0.12 * SR)
    tt = np.arange(m) / SR
    while t < n / SR:
        for d in (0, rng.uniform(0.12, 0.25)):
            hit = np.sin(2 * np.pi * ring * rng.uniform(0.9, 1.1) * tt) * decay(m, 0.03)
            hit += 0.5 * rng.standard_normal(m) * decay(m, 0.004)
            place(out, hit, int((t + d) * SR), rng.uniform(0.6, 1))
        t += period * rng.uniform(0.9, 1.1)
    return normalize(out)


def squeal(rng, n, rate=0.15, lo=2000.0, hi=5000.0):
    """Brake or wheel squeal: a narrow tone with vibrato swelling for a second or two."""
    out = np.zeros(n)
    for start in _times(rng, n, rate, SR):
        dur = rng.uniform(0.6, 2.5)
        m = int(dur * SR)
        t = np.arange(m) / SR
        f = rng.uniform(lo, hi) * (1 + 0.01 * np.sin(2 * np.pi * rng.uniform(4, 8) * t))
        env = np.sin(np.pi * t / dur) ** 2
        place(out, env * np.sin(2 * np.pi * np.cumsum(f) / SR), start, rng.uniform(0.4, 1))
    return normalize(out + 1e-6 * rng.standard_normal(n))


def birds(rng, n, rate=1.0, lo=2000.0, hi=8000.0):
    """Bird calls: bursts of short FM chirps."""
    out = np.zeros(n)
    for start in _times(rng, n, rate):
        f_a = rng.uniform(lo, hi)
        f_b = np.clip(f_a * rng.uniform(0.6, 1.6), lo * 0.7, hi * 1.2)
        for j in range(rng.integers(1, 6)):
            m = int(rng.uniform(0.04, 0.18) * SR)
            t = np.arange(m) / SR
            f = np.linspace(f_a, f_b, m)
            env = np.sin(np.pi * t / t[-1]) ** 2
            place(
                out,
                env * np.sin(2 * np.pi * np.cumsum(f) / SR),
                start + j * int(rng.uniform(0.08, 0.25) * SR),
                rng.uniform(0.5, 1),
            )
    return normalize(out + 1e-6 * rng.standard_normal(n))


def announcement(rng, n, rate=0.08, chime=(660.0, 880.0), formant_set=0):
    """A PA announcement: a two-tone chime, then band-limited speech."""
    out = np.zeros(n)
    for start in _times(rng, n, rate, 4 * SR):
        m = int(0.45 * SR)
        t = np.arange(m) / SR
        for i, f in enumerate(chime):
            place(out, np.sin(2 * np.pi * f * t) * decay(m, 0.25), start + i * m, 0.8)
        sm = int(rng.uniform(2, 4) * SR)
        speech = voice(rng, sm, rng.uniform(100, 200), FORMANT_SETS[formant_set])
        place(out, butter(speech, "bandpass", (300, 3400), order=3), start + 2 * m, 1.0)
    return normalize(out + 1e-6 * rng.standard_normal(n))


def door(rng, n, rate=0.1):
    """Pneumatic doors: a hiss and a thump."""
    out = np.zeros(n)
    for start in _times(rng, n, rate, SR):
        m = int(rng.uniform(0.5, 1.2) * SR)
        hiss = butter(rng.standard_normal(m), "highpass", 2500) * decay(m, 0.3)
        thump_len = int(0.1 * SR)
        thump = np.sin(2 * np.pi * 70 * np.arange(thump_len) / SR) * decay(thump_len, 0.03)
        place(out, hiss, start, 0.7)
        place(out, thump, start + m, 1.0)
    return normalize(out + 1e-6 * rng.standard_normal(n))


def bell(rng, n, rate=0.1, pitch=1.0):
    """Tram bell: a pair of dual-tone dings."""
    out = np.zeros(n)
    m = int(0.8 * SR)
    t = np.arange(m) / SR
    ding = (
        np.sin(2 * np.pi * 820 * pitch * t)
        + 0.7 * np.sin(2 * np.pi * 1230 * pitch * t)
        + 0.3 * np.sin(2 * np.pi * 2650 * pitch * t)
    ) * decay(m, 0.18)
    for start in _times(rng, n, rate, SR):
        for j in range(rng.integers(1, 3)):
            place(out, ding, start + j * int(0.3 * SR), 1.0)
    return normalize(out + 1e-6 * rng.standard_normal(n))


def beeps(rng, n, rate=0.3, lo=1000.0, hi=3000.0):
    """Cash registers, door warnings, scanners: short pure beeps."""
    out = np.zeros(n)
    for start in _times(rng, n, rate):
        f = rng.uniform(lo, hi)
        m = int(rng.uniform(0.08, 0.25) * SR)
        t = np.arange(m) / SR
        for j in range(rng.integers(1, 4)):
            place(
                out, np.sin(2 * np.pi * f * t) * np.minimum(1, (m - np.arange(m)) / 200), start + j * int(0.35 * SR), 1
            )
    return normalize(out + 1e-6 * rng.standard_normal(n))


def rolling(rng, n, rate=0.25):
    """Suitcase wheels (and trolleys): fast periodic clicks for a few seconds."""
    out = np.zeros(n)
    for start in _times(rng, n, rate, 3 * SR):
        dur = rng.uniform(1, 3.5)
        hz = rng.uniform(7, 15)
        k = int(dur * hz)
        m = int(0.01 * SR)
        for j in range(k):
            place(out, rng.standard_normal(m) * decay(m, 0.002), start + int(j * SR / hz), 0.8)
        place(out, butter(rng.standard_normal(int(dur * SR)), "bandpass", (150, 900)) * 0.15, start)
    return normalize(butter(out, "highpass", 100) + 1e-6 * rng.standard_normal(n))


def ticks(rng, n, hz=1.5):
    """Bus indicator: a steady tick-tock while active."""
    out = np.zeros(n)
    if rng.random() < 0.5:
        return out + 1e-6 * rng.standard_normal(n)
    m = int(0.008 * SR)
    a = int(rng.uniform(0, n / 2))
    for t in np.arange(a, min(n, a + int(rng.uniform(3, 8) * SR)), int(SR / hz)):
        place(out, butter(rng.standard_normal(m), "bandpass", (1500, 5000)) * decay(m, 0.002), int(t))
    return normalize(out + 1e-6 * rng.standard_normal(n))


def engine(rng, n, f0=40.0, harmonics=12, rolloff=2.0, shifts=0.15):
    """Diesel or electric drive: a harmonic source whose speed ramps with gear shifts / accelerations."""
    x = harmonic_tone(rng, n, f0, harmonics, rolloff, wander=shifts, wander_hz=0.25)
    grit = butter(rng.standard_normal(n), "bandpass", (f0 * 2, f0 * 30)) * 0.3
    return normalize(x + grit)
