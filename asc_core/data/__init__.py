"""Datasets in the TAU Urban Acoustic Scenes 2022 Mobile layout, the embedded generator and features."""

from asc_core.data.errors import AudioError, DatasetError
from asc_core.data.labels import CITIES, DEVICES, SCENES, SEEN_DEVICES, TRAIN_DEVICES, UNSEEN_DEVICES
from asc_core.data.tau22 import SUBSETS, TAU22Dataset, open_dataset, open_dataset_cached

__all__ = [
    "AudioError",
    "DatasetError",
    "TAU22Dataset",
    "open_dataset",
    "open_dataset_cached",
    "SUBSETS",
    "SCENES",
    "DEVICES",
    "TRAIN_DEVICES",
    "SEEN_DEVICES",
    "UNSEEN_DEVICES",
    "CITIES",
]
