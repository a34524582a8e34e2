"""``bench cli``: how long the commands that do not train take, each in a fresh process (what a person waits for
at the prompt, and what every test and script that shells out pays), and which of them load torch and Lightning.
A command that only reads the store, the committed results or the catalog should stay under a second or two; one
that imports torch pays about 2.5 s for it on a 2-core CPU."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from asc_core.paths import PROJECT_ROOT

# argv after ``python -m asc_core``; {data} is a dataset root, {runs} an empty run store
_COMMANDS = [
    ["--help"],
    ["runs", "list", "--runs", "{runs}"],
    ["tables", "plan", "--tables", "IV", "--subsets", "5", "--seeds", "2", "--workers", "2", "--dataset", "{data}",
     "--runs", "{runs}"],
    ["tables", "directions", "--tables", "IV"],
    ["models"],
    ["complexity", "--model", "rep_mobile", "--width", "32"],
]  # fmt: skip
# runs the command as `python -m asc_core` would, then says on stderr's last line which frameworks it loaded
_PROBE = (
    "import json, runpy, sys\n"
    "sys.argv = ['asc_core', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('asc_core', run_name='__main__')\n"
    "except SystemExit as e:\n    code = e.code\n"
    "else:\n    code = 0\n"
    "print(json.dumps({'torch': 'torch' in sys.modules, 'lightning': 'lightning' in sys.modules}), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _once(argv: list[str], env: dict) -> tuple[float, float, dict]:
    """Wall and CPU seconds of one fresh process running ``argv``, and what it loaded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env,
                       cwd=PROJECT_ROOT, timeout=300)  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError(f"`python -m asc_core {' '.join(argv)}` failed: {r.stderr.strip()[-500:]}")
    loaded = json.loads(r.stderr.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, loaded


def bench_cli(quick: bool = False) -> dict:
    from asc_core.devtools.bench import _machine
    from asc_core.embedded.synth import generate

    repeats, commands = (1, _COMMANDS[:3]) if quick else (3, _COMMANDS)  # quick: the ones that must not load torch
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = generate("tiny", 0, Path(tmp) / "tiny")
        env = dict(os.environ, ASC_RUNS=str(Path(tmp) / "runs"), ASC_DATA=str(data))
        for argv in commands:
            argv = [a.format(data=data, runs=Path(tmp) / "runs") for a in argv]
            times = [_once(argv, env) for _ in range(repeats)]
            loaded = times[-1][2]
            shown = " ".join(a if not a.startswith(tmp) else "…" for a in argv)
            rows.append({"command": shown, "median s": round(statistics.median(t[0] for t in times), 2),
                         "cpu s": round(statistics.median(t[1] for t in times), 2),
                         "loads": ", ".join(k for k in ("torch", "lightning") if loaded[k]) or "neither"})  # fmt: skip
    return {"bench": "cli", "machine": _machine(), "rows": rows, "repeats": repeats}
