#!/usr/bin/env bash
# Build .whl/: the packages a lent GPU machine's Python lacks, for scripts/device_tables.sh and device_bench.sh to
# install there (that machine cannot reach a package registry). Its image (Python 3.12) already holds torch,
# torchaudio, lightning, torchmetrics, timm, numpy, pandas, scipy, scikit-learn and pyyaml; what it lacks is below,
# each at the version this project's .venv has (so the GPU runs the code the tests ran). NNI's wheel is 61 MB, most of
# it its web UI (nni_node); it is unpacked into .whl/site without that folder, so everything carried stays under the
# device tool's 64 MiB (about 11 MB in all). Run here once per machine (`make install` first); then carry `.whl`.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || { echo "no .venv here: run 'make install' first" >&2; exit 2; }
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo /.whl/ >> .git/info/exclude; }
pkgs="nni json-tricks schema typeguard prettytable wcwidth astor PythonWebHDFS responses websockets hear21passt huey
soundfile cffi pycparser pydantic pydantic-core annotated-types typing-inspection torchinfo pytz"
pins=$("$py" - $pkgs <<'EOF'
import importlib.metadata as md, sys
print(" ".join(f"{n}=={md.version(n)}" for n in sys.argv[1:]))
EOF
)
rm -rf .whl && mkdir -p .whl/site
plat=""
for n in 28 27 17 5; do plat="$plat --platform manylinux_2_${n}_x86_64"; done
for pin in $pins; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    $plat --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$pin" 2>&1 | grep -v "^WARNING" || true
done
nni=$(ls .whl/nni-*.whl)
(cd .whl/site && python3 -m zipfile -e "../$(basename "$nni")" . && rm -rf nni_node)
rm "$nni"
echo "$(ls .whl/*.whl | wc -l) wheels and NNI unpacked in .whl ($(du -sh .whl | cut -f1)): carry [\".whl\"]"
