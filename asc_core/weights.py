"""Pretrained teacher weights: fetched once, by name, on request (``python -m asc_core teachers download NAME``),
never during a run; verified on every use.

Files live in ``<data home>/weights/`` with a manifest (``manifest.json``: file, size, SHA-256, source URL, time)
written when a download or an import (``--from FILE``) completes. A download resumes from a partial file
(``*.part``, HTTP Range); a file whose SHA-256 differs from the one expected (given, or recorded earlier) is refused
and nothing is recorded. Offline, the command fails in one line saying what to fetch and where to put it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import time
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import Callable

from asc_core.paths import data_home

_RELEASES = "https://github.com/kkoutini/PaSST/releases/download"
# The PaSST author's AudioSet releases that load into `passt_s` (patch 16, stride 10, 128 mels, 998 frames).
# Others he publishes (PaSST-L, stride-16, 20/30-s variants) have other shapes and no teacher here yet.
WEIGHTS = {
    "passt_s_audioset": {
        "model": "passt_s",
        "file": "passt-s-f128-p16-s10-ap.476-swa.pt",
        "url": f"{_RELEASES}/v0.0.1-audioset/passt-s-f128-p16-s10-ap.476-swa.pt",
        "what": "PaSST-S trained on AudioSet (mAP .476, SWA) — the seeds' pretrained teachers",
    },
    "passt_s_kd_audioset": {
        "model": "passt_s",
        "file": "passt-s-kd-ap.486.pt",
        "url": f"{_RELEASES}/v.0.0.9/passt-s-kd-ap.486.pt",
        "what": "PaSST-S trained on AudioSet with knowledge distillation (mAP .486)",
    },
}
AUDIOSET = "passt_s_audioset"  # what a teacher's `init: audioset` means
CHUNK = 1 << 20


class WeightsError(ValueError):
    """Weights that are missing, corrupt or cannot be fetched; the message says what to do."""


def weights_dir() -> Path:
    return data_home() / "weights"


def _manifest_path() -> Path:
    return weights_dir() / "manifest.json"


def manifest() -> dict:
    p = _manifest_path()
    return json.loads(p.read_text()) if p.exists() else {}


def _record(name: str, entry: dict) -> None:
    m = manifest() | {name: entry}
    tmp = _manifest_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(m, indent=2, sort_keys=True))
    tmp.replace(_manifest_path())


def _known(name: str) -> dict:
    if name not in WEIGHTS:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}")
    return WEIGHTS[name]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=64)
def _sha256_at(path: str, size: int, mtime_ns: int) -> str:
    return sha256(Path(path))


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, hashed once per (path, size, modification time) in this process: a run checks the same
    330 MB release for every teacher that starts from it, and a changed file is hashed again."""
    st = Path(path).stat()
    return _sha256_at(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def path_of(name: str) -> Path:
    return weights_dir() / _known(name)["file"]


def recorded_sha256(name: str) -> str | None:
    """The SHA-256 recorded when ``name`` was fetched (cheap: no hashing), or None."""
    return (manifest().get(name) or {}).get("sha256")


def check_present(name: str) -> Path:
    """The file of ``name`` if it is here with the recorded size (cheap: for pages); WeightsError otherwise."""
    info, path = _known(name), path_of(name)
    entry = manifest().get(name)
    if not path.exists() or entry is None or path.stat().st_size != entry["size"]:
        raise WeightsError(f"{info['what']} ({name}) is not here: run `python -m asc_core teachers download {name}` "
                           f"(or put {info['file']} at {path} and run it with --from FILE)")  # fmt: skip
    return path


def verified_path(name: str) -> Path:
    """The file of ``name`` after checking it against the manifest; WeightsError saying how to get it otherwise."""
    path, entry = check_present(name), manifest()[name]
    if file_sha256(path) != entry["sha256"]:
        raise WeightsError(f"{path} does not match the SHA-256 recorded when it was fetched; delete it and run "
                           f"`python -m asc_core teachers download {name}` again")  # fmt: skip
    return path


def download(name: str, url: str | None = None, expected_sha256: str | None = None, source: str | None = None,
             progress: Callable[[int, int], None] | None = None, timeout_s: float = 30.0) -> dict:  # fmt: skip
    """Fetch ``name`` (resuming a partial download) or import it from a local file ``source``; verify, record."""
    info = _known(name)
    url = url or info["url"]
    final = path_of(name)
    final.parent.mkdir(parents=True, exist_ok=True)
    expected = expected_sha256 or info.get("sha256") or recorded_sha256(name)
    part = final.with_name(final.name + ".part")
    if source:
        shutil.copyfile(source, part)
    else:
        _fetch(url, part, name, final, progress, timeout_s)
    digest = sha256(part)
    if expected and digest != expected.lower():
        part.unlink()
        raise WeightsError(f"{name}: SHA-256 {digest} is not the expected {expected}; the file was refused")
    part.replace(final)
    entry = {"file": final.name, "size": final.stat().st_size, "sha256": digest, "url": source or url,
             "fetched_at": time.time()}  # fmt: skip
    _record(name, entry)
    return entry | {"name": name, "path": str(final)}


def _fetch(url: str, part: Path, name: str, final: Path, progress, timeout_s: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout_s)  # noqa: S310  (https/http URLs of the registry)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the partial file is already complete
            return
        raise WeightsError(f"cannot download {name} from {url}: HTTP {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        raise WeightsError(f"cannot download {name}: {getattr(e, 'reason', e)} — on a machine with internet, fetch "
                           f"{url} and put it at {final}, then run `python -m asc_core teachers download {name} "
                           f"--from {final}`") from None  # fmt: skip
    with resp:
        resumed = resp.status == 206
        total = int(resp.headers.get("Content-Length") or 0) + (have if resumed else 0)
        done = have if resumed else 0
        with open(part, "ab" if resumed else "wb") as f:
            try:
                for chunk in iter(lambda: resp.read(CHUNK), b""):
                    f.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            except (OSError, urllib.error.URLError, http.client.HTTPException) as e:
                raise WeightsError(f"download of {name} was cut at {done:,} B ({e}); run the command again to "
                                   "resume") from None  # fmt: skip
    if total and done < total:
        raise WeightsError(f"download of {name} stopped at {done:,} of {total:,} B; run the command again to resume")
