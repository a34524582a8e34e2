"""Make the demo bundle (assets/demo_runs): the demo, quick and quick-single presets run for real on the embedded
`mini` set, stripped to what the pages read. About ten minutes on 2 CPU cores.

    PYTHONPATH=. python scripts/make_demo_bundle.py
"""

from asc_core.demo import BUNDLE, make_bundle

if __name__ == "__main__":
    ids = make_bundle()
    size = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    print(f"{len(ids)} runs in {BUNDLE} ({size / 1e6:.1f} MB)")
