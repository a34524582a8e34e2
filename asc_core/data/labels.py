"""The label sets of TAU Urban Acoustic Scenes 2022 Mobile (exact strings of meta.csv)."""

SCENES = (
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
)
DEVICES = ("a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6")
TRAIN_DEVICES = ("a", "b", "c", "s1", "s2", "s3")
SEEN_DEVICES = TRAIN_DEVICES
UNSEEN_DEVICES = ("s4", "s5", "s6")
CITIES = (
    "barcelona",
    "helsinki",
    "lisbon",
    "london",
    "lyon",
    "milan",
    "paris",
    "prague",
    "stockholm",
    "vienna",
)
from asc_core.constants import SAMPLE_RATE  # noqa: E402,F401  (where it used to live)
