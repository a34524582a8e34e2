"""Render time of each page with AppTest (the script run, no browser), for `python -m asc_core bench app`.

    ASC_RUNS=... ASC_DATA=... python scripts/bench_pages.py [--repeats 3] [--pages experiment jobs]

Prints one JSON object {page: median seconds}. Lives outside asc_core because it imports Streamlit.
"""

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

from streamlit.testing.v1 import AppTest

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent
p = argparse.ArgumentParser()
p.add_argument("--repeats", type=int, default=3)
p.add_argument("--pages", nargs="*", default=["home", "experiment", "jobs", "compare", "learn"])
a = p.parse_args()
out = {}
for page in a.pages:
    times = []
    for _ in range(a.repeats):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.run()
        t0 = time.perf_counter()
        at.switch_page(f"pages/{page}.py").run()
        times.append(time.perf_counter() - t0)
        if at.exception:
            sys.exit(f"{page}: {at.exception[0].message}")
    out[page] = round(statistics.median(times), 2)
print(json.dumps(out))
