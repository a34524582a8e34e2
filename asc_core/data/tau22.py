"""A dataset folder in the TAU Urban Acoustic Scenes 2022 Mobile development layout.

Layout: ``meta.csv`` (tab-separated: filename, scene_label, identifier, source_label), ``audio/*.wav``,
and the DCASE2024 split files ``split5/10/25/50/100.csv`` and ``test.csv`` (tab-separated: filename,
scene_label) in the root or in ``split_setup/``. Filenames follow
``audio/<scene>-<city>-<location>-<segment>-<k>-<device>.wav``.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cached_property, lru_cache
from pathlib import Path

import pandas as pd

from asc_core.data.audio import Clip, decode
from asc_core.data.errors import AudioError, DatasetError
from asc_core.data.labels import DEVICES, SAMPLE_RATE, SCENES

log = logging.getLogger(__name__)

from asc_core.constants import SUBSETS  # noqa: E402

SPLIT_FILES = tuple(f"split{p}.csv" for p in SUBSETS) + ("test.csv",)
META_COLUMNS = ["filename", "scene_label", "identifier", "source_label"]
SPLIT_COLUMNS = ["filename", "scene_label"]
_NAME_RE = (
    r"^audio/(?P<scene>[a-z_]+)-(?P<city>[a-z]+)-(?P<location>\w+)-(?P<segment>\w+)-(?P<k>\d+)-(?P<device>\w+)\.wav$"
)


def _read_table(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DatasetError(path, "is empty", f"expected a tab-separated header: {', '.join(columns)}") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as e:
        raise DatasetError(path, f"is not a tab-separated table ({e})") from None
    got = list(df.columns)
    if got[: len(columns)] != columns:
        raise DatasetError(
            path,
            f"wrong header {got!r}",
            f"expected tab-separated columns {columns!r}",
        )
    return df[columns]


def _check_labels(path: Path, labels: pd.Series, allowed, what: str, files: pd.Series) -> None:
    """The first row whose label is not one the product knows, named by line, file and label."""
    unknown = ~labels.isin(allowed)
    if unknown.any():
        i = int(unknown.to_numpy().argmax())
        raise DatasetError(
            path,
            f"line {i + 2} ({files.iloc[i]}): unknown {what} {str(labels.iloc[i])[:60]!r}"
            + (f" (and {int(unknown.sum()) - 1} more rows)" if unknown.sum() > 1 else ""),
            f"allowed: {', '.join(allowed)}",
        )


def find_split_file(root: Path, name: str) -> Path | None:
    for cand in (
        root / name,
        root / "split_setup" / name,
        root / "split_setup" / (name + ".gz"),
        root / (name + ".gz"),
    ):
        if cand.exists():
            return cand
    return None


def _preset_hint(root: Path) -> str:
    """The embedded preset a missing folder is named after (``data/standard`` → standard), else mini."""
    from asc_core.embedded.synth import PRESETS

    return root.name if root.name in PRESETS else "mini"


class TAU22Dataset:
    """Open a TAU22-layout root; list clips with scene, city, location, recording, device and splits.

    ``clips`` has one row per meta.csv row with columns: filename, scene, identifier, city, location,
    recording, segment, k, device, subset (smallest training subset holding the clip, 0 if none) and
    test (bool).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(
                self.root,
                "dataset folder does not exist",
                f"create one with `python -m asc_core data synth --preset {_preset_hint(self.root)} --out {self.root}`",
            )
        meta_path = self.root / "meta.csv"
        if not meta_path.exists():
            raise DatasetError(
                meta_path, "meta.csv is missing", "a TAU22 root holds meta.csv, audio/ and the split files"
            )
        self.meta_path = meta_path
        missing = [n for n in SPLIT_FILES if find_split_file(self.root, n) is None]
        if missing:
            raise DatasetError(
                self.root,
                f"split file(s) missing: {', '.join(missing)}",
                "put the DCASE2024 split files in the root or in split_setup/; "
                "`python -m asc_core data download-tau22` copies them from assets/tau22",
            )
        self.split_paths = {n: find_split_file(self.root, n) for n in SPLIT_FILES}
        self.problems: list[str] = []
        self._clips = self._load()

    # ---------------------------------------------------------------- loading
    def _load(self) -> pd.DataFrame:
        meta = _read_table(self.meta_path, META_COLUMNS)
        parts = meta["filename"].str.extract(_NAME_RE)
        bad = parts["scene"].isna()
        if bad.any():
            examples = ", ".join(meta.loc[bad, "filename"].head(3))
            raise DatasetError(
                self.meta_path,
                f"{int(bad.sum())} filename(s) not in the TAU pattern, e.g. {examples}",
                "expected audio/<scene>-<city>-<location>-<segment>-<k>-<device>.wav",
            )
        df = pd.DataFrame(
            {
                "filename": meta["filename"],
                "scene": meta["scene_label"],
                "identifier": meta["identifier"],
                "city": parts["city"],
                "location": parts["city"] + "-" + parts["location"],
                "recording": parts["scene"] + "-" + parts["city"] + "-" + parts["location"] + "-" + parts["segment"],
                "segment": parts["k"].astype(int),
                "device": meta["source_label"],
            }
        )
        _check_labels(self.meta_path, df["scene"], SCENES, "scene label", df["filename"])
        _check_labels(self.meta_path, df["device"], DEVICES, "device (source_label)", df["filename"])
        mism = df["scene"] != parts["scene"]
        if mism.any():
            self.problems.append(
                f"meta.csv: {int(mism.sum())} rows whose scene_label differs from the filename's scene"
            )
        if df["filename"].duplicated().any():
            raise DatasetError(self.meta_path, f"{int(df['filename'].duplicated().sum())} duplicated filename(s)")
        index = pd.Series(range(len(df)), index=df["filename"])
        df["subset"] = 0
        df["test"] = False
        self.split_rows: dict[str, object] = {}
        for pct in reversed(SUBSETS):
            rows = self.split_rows[f"split{pct}"] = self._split_rows(f"split{pct}.csv", index, df)
            df.loc[rows, "subset"] = pct
        test_rows = self.split_rows["test"] = self._split_rows("test.csv", index, df)
        df.loc[test_rows, "test"] = True
        overlap = int(((df["subset"] > 0) & df["test"]).sum())
        if overlap:
            self.problems.append(f"{overlap} clips are both in a training split and in test.csv")
        return df

    def _split_rows(self, name: str, index: pd.Series, df: pd.DataFrame):
        path = self.split_paths[name]
        split = _read_table(path, SPLIT_COLUMNS)
        absent = ~split["filename"].isin(index.index)
        if absent.any():
            examples = ", ".join(split.loc[absent, "filename"].head(3))
            raise DatasetError(
                path,
                f"{int(absent.sum())} row(s) absent from meta.csv, e.g. {examples}",
                "the split file and meta.csv come from different datasets",
            )
        _check_labels(path, split["scene_label"], SCENES, "scene label", split["filename"])
        rows = index.loc[split["filename"]].to_numpy()
        wrong = df["scene"].to_numpy()[rows] != split["scene_label"].to_numpy()
        if wrong.any():
            self.problems.append(f"{path.name}: {int(wrong.sum())} rows whose scene_label disagrees with meta.csv")
        return rows

    # ---------------------------------------------------------------- API
    @property
    def clips(self) -> pd.DataFrame:
        return self._clips

    def subset(self, pct: int) -> pd.DataFrame:
        """Training clips of the DCASE2024 subset ``pct`` (5, 10, 25, 50 or 100)."""
        if pct not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS}, got {pct!r}")
        c = self._clips
        return c[(c["subset"] > 0) & (c["subset"] <= pct)]

    def test(self) -> pd.DataFrame:
        return self._clips[self._clips["test"]]

    def path(self, filename: str) -> Path:
        return self.root / filename

    def load(self, filename: str, sample_rate: int = SAMPLE_RATE, warn: bool = True) -> Clip:
        """Decode one clip as mono float32 at ``sample_rate`` (raises AudioError naming the file)."""
        return decode(self.path(filename), name=filename, target_sr=sample_rate, warn=warn)

    def parallel(self, recording: str, segment: int) -> pd.DataFrame:
        """The same 1-s segment of one recording as captured by every device that has it."""
        c = self._clips
        return c[(c["recording"] == recording) & (c["segment"] == segment)]

    @cached_property
    def name(self) -> str:
        return self.root.name

    def fingerprint(self, filenames: list[str] | None = None) -> str:
        """Content key of the metadata and the (size, mtime) of the given audio files."""
        h = hashlib.sha1()
        for p in [self.meta_path, *self.split_paths.values()]:
            h.update(p.read_bytes())
        for fn in filenames or []:
            try:
                st = self.path(fn).stat()
                h.update(f"{fn}:{st.st_size}:{st.st_mtime_ns}".encode())
            except FileNotFoundError:
                h.update(f"{fn}:missing".encode())
        return h.hexdigest()[:16]

    def check_files(self, decode_audio: bool = False, progress=None) -> list[AudioError]:
        """Problems with the audio files: missing (always), unreadable (with ``decode_audio``)."""
        errors: list[AudioError] = []
        files = self._clips["filename"].tolist()
        for i, fn in enumerate(files):
            p = self.path(fn)
            try:
                if decode_audio:
                    self.load(fn, warn=False)
                elif not p.exists():
                    raise AudioError(fn, "file is missing")
            except AudioError as e:
                errors.append(e)
            if progress:
                progress(i + 1, len(files))
        return errors


def open_dataset(root: str | Path) -> TAU22Dataset:
    return TAU22Dataset(root)


@lru_cache(maxsize=4)
def open_dataset_cached(root: str) -> TAU22Dataset:
    """One parsed dataset per folder for long-lived readers (the app's pages, planning); training
    opens its own with ``open_dataset`` so it sees files changed since."""
    return TAU22Dataset(root)
