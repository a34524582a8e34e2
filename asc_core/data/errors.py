"""Errors that name the file and the problem, for people rather than tracebacks."""

from __future__ import annotations

from pathlib import Path


class DatasetError(ValueError):
    """A dataset folder, metadata file or split file is unusable."""

    def __init__(self, path: str | Path, problem: str, hint: str = ""):
        self.path = str(path)
        self.problem = problem
        self.hint = hint
        msg = f"{self.path}: {problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class AudioError(DatasetError):
    """One audio clip cannot be used (missing, empty, truncated, not audio, NaN/Inf)."""
