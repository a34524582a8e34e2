"""Shared by the command modules: progress bars on stderr, one-document JSON output, and the teacher-lead report
of `tables lead` and `runs lead`."""

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


def _records(frame) -> list[dict]:
    """A DataFrame as JSON records, NaN as null."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _emit_lead(pairs, as_json: bool, store: bool, none_yet: str) -> None:
    """Does a student follow its teachers: the pairs, the fit and its paragraph (``asc_core.teacher_lead``), or
    ``none_yet``."""
    from asc_core import teacher_lead

    if pairs.empty:
        _emit({"pairs": [], "fit": []}, as_json, none_yet)
        return
    fit = teacher_lead.lead_fit(pairs)
    text = teacher_lead.lead_text(pairs, fit, teacher_lead.lead_words(fit, store=store))
    _emit({"pairs": _records(pairs), "fit": _records(fit)}, as_json, text)
