#!/usr/bin/env bash
# The paper tables on a lent GPU machine (docs/GPU.md). TABLES: default V,IV,III,II,device, all of them, the costliest
# first (the data is generated afresh, on the embedded set's current generator); WORKERS concurrent runs on the one
# GPU; BUDGET_S seconds of training, then up to GRACE_S more in which the runs in hand finish and no other starts
# (keep BUDGET_S + GRACE_S about 100 s under the call's limit); CHECK=0 skips the pruning schedule's GPU-path check
# (~30 s); SEEDS seeds a cell (default 2, the plan; 3 adds the third where the CSVs lack it). The CSVs and
# RESULTS.md come back under $OUT (commit them into docs/); they are copied there every 20 s as runs land, so a call
# cut off by its time limit still brings back what finished. FRESH=1 starts from an empty results folder
# (/tmp/results) instead of the committed CSVs, to time the whole set from nothing: every planned run is then queued,
# where with the committed CSVs only the cells they lack are (none, when every cell is recorded). RESULTS=<folder>
# reads and writes that folder instead: a later call of a FRESH set that did not finish in one carries back the CSVs
# the earlier call returned (e.g. copied to .gpu_results/, with carry [".whl", ".gpu_results"]).
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/.whl/site:$PWD PYTHONUNBUFFERED=1 ASC_DATA_HOME=/tmp/data ASC_RUNS=/tmp/runs
export ASC_LOADER_WORKERS=1  # several runs share the machine's cores
# compute threads per run: the cores shared among the workers (a pruning schedule's steps run on the CPU)
export OMP_NUM_THREADS=$(( $(nproc) / ${WORKERS:-8} > 0 ? $(nproc) / ${WORKERS:-8} : 1 ))
nvidia-smi -L
# the GPU path of a pruning schedule is only exercised where a GPU is: say at once whether it works here
if [ "${CHECK:-1}" = 0 ]; then
  echo "(the GPU-path check skipped: CHECK=0)"
elif python3 -c "import pytest" 2>/dev/null; then
  python3 -m pytest -q -p no:cacheprovider tests/compress/test_budget_search.py -k where_it_is_told 2>&1 | tail -1
else
  echo "(no pytest here: the pruning schedule's GPU path is checked by the runs themselves)"
fi
t0=$(date +%s)
python3 -m asc_core data synth --preset standard --seed 0 --out /tmp/data/standard 2>&1 | tail -1
echo "standard set in $(( $(date +%s) - t0 )) s"
results=${RESULTS:-docs/results}
if [ "${FRESH:-0}" = 1 ] && [ -z "${RESULTS:-}" ]; then results=/tmp/results; echo "(FRESH=1: the whole set, from an empty $results)"; fi
mkdir -p "$results"
( while sleep 20; do cp "$results"/*.csv "$OUT/" 2>/dev/null; done ) &
copier=$!
python3 -m asc_core tables run --tables "${TABLES:-V,IV,III,II,device}" --workers "${WORKERS:-8}" \
  --seeds "${SEEDS:-2}" --results "$results" --budget-s "${BUDGET_S:-330}" --grace-s "${GRACE_S:-150}" 2>&1 | grep -E "^\[|queued|result rows|planned|workers ended|Error|error" | tail -40
kill $copier
cp "$results"/*.csv "$results"/../RESULTS.md "$OUT/" 2>/dev/null
grep -E "Error|error" /tmp/runs/tables-workers.log | sort | uniq -c | sort -rn | head -10
python3 -m asc_core runs list --runs /tmp/runs 2>/dev/null | tail -12
