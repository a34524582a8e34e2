"""Recipes of the ten TAU scenes as mixtures of shared sound layers.

A scene is a set of layers (textures and events from ``sounds``) with mean levels, presence
probabilities and a space (room reverberation or an open street). Confusable scenes share layers and
differ in proportions: airport / shopping_mall / metro_station share babble, HVAC, footsteps and large
halls; bus / tram / metro share engines, rails, doors and small cabins; park / public_square /
street_pedestrian / street_traffic share voices, footsteps and traffic at different distances.

Variety within a class comes in three tiers, each drawn from its own seeded generator:
- city traits (per city × scene): pitch of bells/engines/voices, language-like formant set, traffic
  density, spectral tilt;
- location traits (per location): each layer's level ±``LOCATION_SPREAD_DB``, reverberation time,
  loudness, and sometimes an atypical mix (a quiet gate, a busy park);
- recording randomness: event times, presence of optional layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from asc_core.embedded import sounds as S
from asc_core.embedded.dsp import db, normalize, reverb, rms, room_ir, shaped_noise

LOCATION_SPREAD_DB = 5.0
RECORDING_SPREAD_DB = 2.5


@dataclass
class Layer:
    name: str
    make: callable  # (rng, n, traits) -> signal
    level_db: float
    prob: float = 1.0


@dataclass
class Recipe:
    layers: list[Layer]
    rt60: tuple[float, float] | None  # None: open air (only weak street reflections)
    loudness_dbfs: float
    drr_db: tuple[float, float] = (0.0, 6.0)
    confusable: tuple[str, ...] = ()


def _pink(tilt):
    return lambda r, n, t: shaped_noise(r, n, tilt + t["tilt"], 30, 14000)


RECIPES: dict[str, Recipe] = {
    "airport": Recipe(
        [
            Layer("hvac", lambda r, n, t: S.hvac(r, n, 50 * t["pitch"] + 10, -4 + t["tilt"]), -6),
            Layer("babble", lambda r, n, t: S.babble(r, n, int(6 * t["density"]) + 3, t["pitch"], t["formants"]), -6),
            Layer("rolling", lambda r, n, t: S.rolling(r, n, 0.35 * t["density"]), -8, 0.8),
            Layer(
                "announcement",
                lambda r, n, t: S.announcement(r, n, 0.1, (600 * t["pitch"], 800 * t["pitch"]), t["formants"]),
                -8,
                0.5,
            ),
            Layer("footsteps", lambda r, n, t: S.footsteps(r, n, 1.8, 1.0, t["density"]), -12),
        ],
        (1.5, 3.0),
        -30,
        (-4, 2),
        ("shopping_mall", "metro_station"),
    ),
    "shopping_mall": Recipe(
        [
            Layer("babble", lambda r, n, t: S.babble(r, n, int(9 * t["density"]) + 3, t["pitch"], t["formants"]), -3),
            Layer("music", lambda r, n, t: S.music(r, n, 200 * t["pitch"]), -10, 0.7),
            Layer("hvac", lambda r, n, t: S.hvac(r, n, 50 * t["pitch"] + 10, -5 + t["tilt"]), -12),
            Layer("footsteps", lambda r, n, t: S.footsteps(r, n, 1.9, 1.2, t["density"]), -10),
            Layer("beeps", lambda r, n, t: S.beeps(r, n, 0.25, 1500, 3500), -14, 0.6),
            Layer("escalator", lambda r, n, t: S.engine(r, n, 100 * t["pitch"], 4, 6, 0.01), -18, 0.4),
        ],
        (1.0, 2.0),
        -28,
        (-2, 4),
        ("airport", "metro_station"),
    ),
    "metro_station": Recipe(
        [
            Layer("tunnel", lambda r, n, t: S.rumble(r, n, 70, 0.3, 0.7), -2),
            Layer("ventilation", lambda r, n, t: S.hvac(r, n, 45 * t["pitch"] + 10, -3 + t["tilt"]), -9),
            Layer("train", lambda r, n, t: S.pass_by(r, n, 0.15, 1.0, 600), -4, 0.6),
            Layer("squeal", lambda r, n, t: S.squeal(r, n, 0.15, 2000, 5000), -12, 0.5),
            Layer(
                "announcement",
                lambda r, n, t: S.announcement(r, n, 0.08, (700 * t["pitch"], 550 * t["pitch"]), t["formants"]),
                -9,
                0.5,
            ),
            Layer("babble", lambda r, n, t: S.babble(r, n, int(4 * t["density"]) + 2, t["pitch"], t["formants"]), -10),
            Layer("footsteps", lambda r, n, t: S.footsteps(r, n, 1.9, 1.0, t["density"]), -12),
            Layer("beeps", lambda r, n, t: S.beeps(r, n, 0.1, 800, 2000), -14, 0.4),
        ],
        (1.5, 2.5),
        -28,
        (-4, 2),
        ("airport", "metro"),
    ),
    "metro": Recipe(
        [
            Layer("rumble", lambda r, n, t: S.rumble(r, n, 150, 1.0, 0.5), 0),
            Layer("rail", lambda r, n, t: S.rail(r, n, 1.5 * t["density"] + 0.5, 200 * t["pitch"]), -5),
            Layer("motor", lambda r, n, t: S.engine(r, n, 300 * t["pitch"], 3, 8, 0.2), -14, 0.5),
            Layer("squeal", lambda r, n, t: S.squeal(r, n, 0.12, 2500, 5000), -12, 0.5),
            Layer("doors", lambda r, n, t: S.door(r, n, 0.08), -10, 0.4),
            Layer(
                "announcement",
                lambda r, n, t: S.announcement(r, n, 0.06, (700 * t["pitch"], 550 * t["pitch"]), t["formants"]),
                -10,
                0.4,
            ),
            Layer("voice", lambda r, n, t: S.babble(r, n, 2, t["pitch"], t["formants"]), -10, 0.6),
        ],
        (0.3, 0.6),
        -22,
        (2, 8),
        ("tram", "bus", "metro_station"),
    ),
    "tram": Recipe(
        [
            Layer("motor", lambda r, n, t: S.engine(r, n, 260 * t["pitch"], 4, 6, 0.3), -4),
            Layer("rumble", lambda r, n, t: S.rumble(r, n, 200, 0.8, 0.6), -4),
            Layer("rail", lambda r, n, t: S.rail(r, n, 1.0 * t["density"] + 0.4, 300 * t["pitch"]), -10),
            Layer("bell", lambda r, n, t: S.bell(r, n, 0.12, t["pitch"]), -10, 0.5),
            Layer("doors", lambda r, n, t: S.door(r, n, 0.08), -10, 0.4),
            Layer("voice", lambda r, n, t: S.babble(r, n, 3, t["pitch"], t["formants"]), -8, 0.7),
        ],
        (0.3, 0.6),
        -25,
        (2, 8),
        ("metro", "bus"),
    ),
    "bus": Recipe(
        [
            Layer("engine", lambda r, n, t: S.engine(r, n, 38 * t["pitch"], 16, 1.5, 0.2), -2),
            Layer("rumble", lambda r, n, t: S.rumble(r, n, 250, 0.6, 0.5), -6),
            Layer("ticks", lambda r, n, t: S.ticks(r, n, 1.5), -12, 0.6),
            Layer("doors", lambda r, n, t: S.door(r, n, 0.1), -9, 0.5),
            Layer("stop_bell", lambda r, n, t: S.beeps(r, n, 0.06, 900, 1500), -12, 0.4),
            Layer("voice", lambda r, n, t: S.babble(r, n, 3, t["pitch"], t["formants"]), -8, 0.7),
        ],
        (0.3, 0.7),
        -24,
        (2, 8),
        ("tram", "metro"),
    ),
    "park": Recipe(
        [
            Layer("ambience", _pink(-4), -10),
            Layer("wind", lambda r, n, t: S.wind(r, n, 600), -6, 0.7),
            Layer("traffic", lambda r, n, t: S.rumble(r, n, 300, 0.2, 0.5), -8),
            Layer(
                "birds",
                lambda r, n, t: S.birds(r, n, 1.2 * t["density"], 2000 * t["pitch"], 7500 * t["pitch"]),
                -4,
                0.9,
            ),
            Layer("voices", lambda r, n, t: S.babble(r, n, 2, t["pitch"], t["formants"]), -12, 0.5),
            Layer("footsteps", lambda r, n, t: S.footsteps(r, n, 1.6, 1.5, 0.6), -14, 0.5),
        ],
        None,
        -38,
        (6, 12),
        ("public_square",),
    ),
    "public_square": Recipe(
        [
            Layer("babble", lambda r, n, t: S.babble(r, n, int(6 * t["density"]) + 2, t["pitch"], t["formants"]), -5),
            Layer("traffic", lambda r, n, t: S.rumble(r, n, 400, 0.3, 0.6), -6),
            Layer("fountain", lambda r, n, t: S.fountain(r, n), -8, 0.4),
            Layer("footsteps", lambda r, n, t: S.footsteps(r, n, 1.8, 1.3, t["density"]), -10),
            Layer("birds", lambda r, n, t: S.birds(r, n, 0.5, 1500, 4000), -12, 0.5),
            Layer("passing", lambda r, n, t: S.pass_by(r, n, 0.08, 0.2, 1000), -10, 0.5),
        ],
        (0.3, 0.8),
        -32,
        (6, 14),
        ("street_pedestrian", "park"),
    ),
    "street_pedestrian": Recipe(
        [
            Layer("voices", lambda r, n, t: S.babble(r, n, int(3 * t["density"]) + 2, t["pitch"], t["formants"]), -3),
            Layer("footsteps", lambda r, n, t: S.footsteps(r, n, 2.0, 1.3, 1.5 * t["density"]), -6),
            Layer("traffic", lambda r, n, t: S.rumble(r, n, 350, 0.4, 0.6), -8),
            Layer("passing", lambda r, n, t: S.pass_by(r, n, 0.12 * t["traffic"], 0.2, 1200), -8, 0.6),
            Layer("music", lambda r, n, t: S.music(r, n, 260 * t["pitch"]), -10, 0.25),
            Layer("beeps", lambda r, n, t: S.beeps(r, n, 0.1, 1500, 3000), -16, 0.3),
        ],
        (0.2, 0.5),
        -30,
        (6, 12),
        ("public_square", "street_traffic"),
    ),
    "street_traffic": Recipe(
        [
            Layer("passing", lambda r, n, t: S.pass_by(r, n, 0.6 * t["traffic"] + 0.2, 0.35, 1500), 0),
            Layer("rumble", lambda r, n, t: S.rumble(r, n, 250, 0.5, 0.5), -4),
            Layer("horns", lambda r, n, t: S.beeps(r, n, 0.05, 350, 600), -10, 0.4),
            Layer("voices", lambda r, n, t: S.babble(r, n, 2, t["pitch"], t["formants"]), -12, 0.5),
            Layer("footsteps", lambda r, n, t: S.footsteps(r, n, 1.9, 1.2, 0.6), -14, 0.5),
        ],
        (0.2, 0.5),
        -26,
        (8, 14),
        ("street_pedestrian",),
    ),
}


@dataclass
class LocationTraits:
    scene: str
    traits: dict
    layer_offsets_db: dict = field(default_factory=dict)
    rt60: float | None = None
    drr_db: float = 6.0
    loudness_dbfs: float = -30.0
    borrowed: list[tuple[str, int, float]] = field(default_factory=list)


def city_traits(rng: np.random.Generator) -> dict:
    """Per city × scene: how this city's version of a scene differs."""
    return {
        "pitch": float(rng.uniform(0.85, 1.2)),
        "density": float(rng.uniform(0.6, 1.5)),
        "traffic": float(rng.uniform(0.6, 1.6)),
        "tilt": float(rng.uniform(-1.5, 1.5)),
        "formants": int(rng.integers(3)),
    }


def location_traits(
    scene: str, city: dict, rng: np.random.Generator, spread_db: float = LOCATION_SPREAD_DB, atypical_p: float = 0.15
) -> LocationTraits:
    recipe = RECIPES[scene]
    loc = LocationTraits(scene, dict(city))
    loc.traits["density"] *= float(rng.uniform(0.7, 1.4))
    loc.layer_offsets_db = {layer.name: float(rng.normal(0, spread_db)) for layer in recipe.layers}
    if recipe.rt60:
        loc.rt60 = float(rng.uniform(*recipe.rt60))
    loc.drr_db = float(rng.uniform(*recipe.drr_db))
    loc.loudness_dbfs = recipe.loudness_dbfs + float(rng.normal(0, 3))
    if rng.random() < atypical_p:
        # An atypical place: the dominant layer much quieter, a layer of a confusable scene added.
        first = recipe.layers[0].name
        loc.layer_offsets_db[first] -= 8
        name = recipe.confusable[int(rng.integers(len(recipe.confusable)))]
        idx = int(rng.integers(len(RECIPES[name].layers)))
        loc.borrowed.append((name, idx, float(rng.uniform(-8, -2))))
    return loc


def render(loc: LocationTraits, rng: np.random.Generator, n: int) -> np.ndarray:
    """One recording of ``n`` samples at the reference microphone (device a), before any device."""
    recipe = RECIPES[loc.scene]
    mix = np.zeros(n)
    for layer in recipe.layers:
        if rng.random() > layer.prob:
            continue
        g = db(layer.level_db + loc.layer_offsets_db[layer.name] + rng.normal(0, RECORDING_SPREAD_DB))
        mix += g * layer.make(rng, n, loc.traits)
    for scene, idx, level in loc.borrowed:
        layer = RECIPES[scene].layers[idx]
        mix += db(level) * layer.make(rng, n, loc.traits)
    if loc.rt60:
        mix = reverb(mix, room_ir(rng, loc.rt60, loc.drr_db))
    else:
        mix = reverb(mix, room_ir(rng, 0.15, 15.0, early=2))
    mix = normalize(mix) * db(loc.loudness_dbfs + rng.normal(0, 1.5))
    # a floor of the recorder itself so that silence is never digital zero
    mix += 1e-5 * rng.standard_normal(n)
    peak = np.abs(mix).max()
    if peak > 0.9:
        mix *= 0.9 / peak
    return mix


__all__ = ["RECIPES", "Recipe", "Layer", "LocationTraits", "city_traits", "location_traits", "render", "rms"]
