"""Shared by the command modules: progress bars on stderr and one-document JSON output."""

from __future__ import annotations

import json
import sys


def _bar(desc: str, enabled: bool = True):
    """A tqdm progress bar on stderr, returned as a ``progress(done, total)`` callback."""
    from tqdm import tqdm

    state = {}

    def update(done: int, total: int):
        if not enabled:
            return
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _emit(obj, as_json: bool, text: str):
    if as_json:
        json.dump(obj, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(text)
