#!/usr/bin/env bash
# Run the product's benches on a lent GPU machine (its python3 holds CUDA torch; the rest travels as wheels in
# .whl/, see docs/GPU.md). Writes what it prints under $OUT.
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/.whl/site:$PWD PYTHONUNBUFFERED=1 ASC_DATA_HOME=/tmp/data
nvidia-smi -L
python3 -m asc_core data synth --preset mini --seed 0 --out /tmp/data/mini 2>&1 | tail -1
python3 -m asc_core bench teachers 2>&1 | grep -v -i warn | tee "$OUT/bench_teachers.txt"
python3 -m asc_core bench train 2>&1 | grep -v -i warn | tee "$OUT/bench_train.txt"
cp /tmp/data/bench/train.json "$OUT/" 2>/dev/null
