"""``data download-tau22``: the real TAU Urban Acoustic Scenes 2022 Mobile development set.

The only command of ASC Lab that touches the network. soundata fetches the Zenodo zips (record
6337421), checks their MD5 sums and extracts them; a second run skips what is already there, so an
interrupted download resumes zip by zip. The DCASE2024 split files are not part of the Zenodo record:
they ship with ASC Lab (``assets/tau22``, byte-identical to the official release, split100 rebuilt
from the public TAU 2020 list) and are copied into ``<root>/split_setup/``.
"""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

from asc_core.data.errors import DatasetError
from asc_core.data.tau22 import SPLIT_FILES
from asc_core.paths import TAU22_ASSETS

log = logging.getLogger(__name__)
DEV_FOLDER = "TAU-urban-acoustic-scenes-2022-mobile-development"


def development_remotes(dataset) -> list[str]:
    return [k for k in dataset.remotes if k.startswith("development.")]


def install_split_files(root: str | Path) -> list[Path]:
    """Write the DCASE2024 split files (split5/10/25/50/100.csv, test.csv) into ``root/split_setup``."""
    dest = Path(root) / "split_setup"
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SPLIT_FILES:
        src = TAU22_ASSETS / f"{name}.gz"
        with gzip.open(src, "rb") as f, open(dest / name, "wb") as g:
            shutil.copyfileobj(f, g)
        written.append(dest / name)
    return written


def download_tau22(root: str | Path, partial: list[str] | None = None, cleanup: bool = False) -> Path:
    """Download (or resume) the development set into ``root``; return the dataset folder."""
    import soundata

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ds = soundata.initialize("tau2022uas_mobile", data_home=str(root))
    remotes = development_remotes(ds)
    if partial:
        wanted = [p if p.startswith("development.") else f"development.{p}" for p in partial]
        unknown = sorted(set(wanted) - set(remotes))
        if unknown:
            raise ValueError(
                f"unknown TAU22 part(s) {', '.join(unknown)}; valid: {', '.join(r.split('.', 1)[1] for r in remotes)}"
            )
        remotes = wanted
    log.info("downloading %d part(s) of TAU22 development into %s", len(remotes), root)
    for attempt in (1, 2):
        try:
            ds.download(partial_download=remotes, cleanup=cleanup)
            break
        except OSError as e:  # URLError, ConnectionError, socket errors and soundata's MD5 IOError
            corrupt = _corrupt_zip(str(e))
            if corrupt and attempt == 1:
                # an interrupted earlier download left a partial zip: drop it and fetch it again
                log.warning("%s failed its MD5 check; downloading it again", corrupt)
                Path(corrupt).unlink(missing_ok=True)
                continue
            if corrupt:
                raise DatasetError(
                    corrupt,
                    "MD5 checksum differs from the published one after a fresh download",
                    "the download is corrupted or the Zenodo record changed",
                ) from None
            raise DatasetError(
                root,
                f"download failed: {e}",
                "check the network connection and run the same command again: finished parts are kept",
            ) from None
    dev = dataset_folder(root)
    install_split_files(dev)
    return dev


def _corrupt_zip(message: str) -> str | None:
    """The path named by soundata's 'has an MD5 checksum ... differing' error, if that is the error."""
    if "MD5 checksum" in message and " has an" in message:
        return message.split(" has an", 1)[0].strip()
    return None


def dataset_folder(root: str | Path) -> Path:
    """The folder holding meta.csv after extraction (soundata extracts into a named sub-folder)."""
    root = Path(root)
    for cand in (root / DEV_FOLDER, root):
        if (cand / "meta.csv").exists() or (cand / "audio").is_dir():
            return cand
    raise DatasetError(
        root, "no meta.csv or audio/ found after the download", "download the 'meta' part as well (it holds meta.csv)"
    )
