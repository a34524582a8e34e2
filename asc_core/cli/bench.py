"""``bench data | models | train | memory | app | teachers | store | loader | cli``: speed on this machine."""

from __future__ import annotations

from asc_core.cli._common import _emit


def cmd_bench(a) -> int:
    from asc_core.devtools import bench
    from asc_core.devtools.bench_cli import bench_cli
    from asc_core.devtools.bench_loader import bench_loader
    from asc_core.devtools.bench_memory import bench_memory
    from asc_core.devtools.bench_store import bench_store

    fn = {"data": bench.bench_data, "models": bench.bench_models, "train": bench.bench_train, "app": bench.bench_app,
          "teachers": bench.bench_teachers, "store": bench_store, "memory": bench_memory,
          "loader": bench_loader, "cli": bench_cli}[a.what]  # fmt: skip
    result = fn(quick=a.quick)
    _emit(result, a.json, bench.format_result(result))
    return 0


def register(sub) -> None:
    b = sub.add_parser("bench", help="throughput and latency on this machine")
    b.add_argument("what", choices=["data", "models", "train", "memory", "app", "teachers", "store", "loader", "cli"])
    b.add_argument("--quick", action="store_true", help="smaller measurements (for tests)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench)
