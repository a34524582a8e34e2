"""``python -m asc_core ...``: the headless face of ASC Lab (the app is a view over the same calls).

``--json`` prints exactly one JSON document on stdout; progress bars and logs go to stderr.
Errors about user input print one clear line and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from asc_core.cli import bench, data, export, models, runs, tables, teachers
from asc_core.data.errors import DatasetError
from asc_core.store_backends import StoreUnreachable


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m asc_core", description="ASC Lab: data-efficient, low-complexity acoustic scene classification"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)
    for group in (data, models, teachers, runs, export, bench, tables):  # one module per command group
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (DatasetError, ValueError, FileNotFoundError, KeyError, StoreUnreachable) as e:  # WeightsError: ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`runs list | head`): what it wanted was printed; no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the interpreter's final flush goes nowhere
        return 141  # 128 + SIGPIPE, as a shell tool reports it
