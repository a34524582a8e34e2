# ASC Lab — two commands: `make app` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | sha1sum | cut -c1-12)
DATA_DIR ?= data
PORT ?= 8501
# Where the app listens: this computer only by default. Serving a classroom (ASC_HOST=0.0.0.0) needs ASC_PASSWORD.
ASC_HOST ?= 127.0.0.1
# glibc maps/unmaps every tensor over 32 MB by default; keeping the heap (FAST_GLIBC, what the tests and benches
# run with) makes CPU training ~2x faster and costs memory. The app's worker picks its memory mode: LOW_MEMORY=1 —
# glibc returns every block over 1 MB when freed (on huge pages) and CP-Mobile blocks recompute their activations
# in the backward pass (same numbers) — is the default on machines with under 16 GB of RAM (a laptop); LOW_MEMORY=0
# or 1 chooses (asc_core/memory.py; README, Speed).
FAST_GLIBC := glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
export GLIBC_TUNABLES := $(FAST_GLIBC)
MEM_GB := $(shell awk '/MemTotal/ {printf "%d", $$2 / 1048576}' /proc/meminfo 2>/dev/null)
LOW_MEMORY ?= $(shell [ -n "$(MEM_GB)" ] && [ "$(MEM_GB)" -lt 16 ] && echo 1 || echo 0)
ifeq ($(LOW_MEMORY),1)
LOW_GLIBC := glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576
APP_MEMORY := export GLIBC_TUNABLES=$(LOW_GLIBC) ASC_LOW_MEMORY=1
else
APP_MEMORY := export GLIBC_TUNABLES=$(FAST_GLIBC) ASC_LOW_MEMORY=0
endif

.PHONY: install app data test test-fast lint bench clean-venv

install: $(STAMP)

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install -r requirements.txt
	@# librosa, the tests' reference log-mel, compiles its numba kernels on first use (~25 CPU s): once here, into the
	@# venv's cache, as pip compiles .pyc files, rather than inside the first suite of every fresh clone
	$(PY) -c "import numpy as np, librosa; librosa.feature.melspectrogram(y=np.zeros(4096, np.float32), sr=32000)"
	@rm -f $(VENV)/.installed-*
	@touch $@

data: install
	$(PY) -m asc_core data synth --preset mini --seed 0 --out $(DATA_DIR)/mini --if-missing

# The app and its worker(s) together; Ctrl-C stops both (a running job checkpoints and can be resumed).
# WORKERS=N sets the number of worker processes (default: one per GPU, else one).
app: install data
	@case "$(ASC_HOST)" in 127.0.0.1|localhost|::1) ;; *) test -n "$$ASC_PASSWORD" || { \
	  echo "ASC_HOST=$(ASC_HOST) opens the app to the network: set ASC_PASSWORD=... (a shared password) too"; exit 2; } ;; esac
	@export ASC_DATA=$(DATA_DIR)/mini; $(APP_MEMORY); \
	echo "memory mode: $(if $(filter 1,$(LOW_MEMORY)),low (LOW_MEMORY=0 for the fast one),fast (LOW_MEMORY=1 for a laptop's memory)); $(MEM_GB) GB of RAM"; \
	$(PY) -m asc_core worker $(if $(WORKERS),--concurrency $(WORKERS)) & WPID=$$!; \
	trap 'kill -INT $$WPID 2>/dev/null; wait $$WPID' EXIT; \
	$(PY) -m streamlit run app.py --server.address $(ASC_HOST) --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

# Everything (what CI runs: .ci/run → make test).
# One test file per process, at most 4 processes (each holds torch and its own small datasets: ~1-2 GB); the 15
# longest tests are listed at the end. (Longest files first measured no faster than xdist's own order: 646.9 against
# 641.8 s on a 2-core AMD EPYC.)
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, len(os.sched_getaffinity(0))))")
test: install
	@bash scripts/ensure_postgres.sh
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

# The unit tests only (no training, workers, app or browser): under a minute.
test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: install
	$(PY) -m asc_core bench data
