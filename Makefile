# minilab: the two commands of the README, plus the tools behind them.
#   make lab    set up .venv (once) and start JupyterLab on notebooks/ at http://127.0.0.1:8888 (opens START.ipynb: both languages)
#   make test   set up .venv (once) and run the whole test suite, notebooks included (fast mode)
# Every target does its own set-up; a second run skips what is done.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
UV     := $(VENV)/bin/uv
UV_VERSION := 0.13.9
# Where pip finds the CPU build of torch (torch==2.13.0+cpu) when pip.conf or $$PIP_FIND_LINKS
# names a folder of wheels; uv reads no pip.conf, so make passes it on.
FIND_LINKS ?= $(PIP_FIND_LINKS)
UV_FLAGS   := --python $(PY) $(if $(FIND_LINKS),--find-links $(FIND_LINKS))
PORT   ?= 8888
# pytest workers: 2 cores here; notebooks need --dist loadscope (one worker per notebook).
WORKERS ?= 2

.PHONY: lab test test-unit bench time-notebooks checkpoints hacking-runs emergence-runs pipeline clean setup lock

setup: $(STAMP)

# Installs requirements.lock: exact versions, hashes checked. From a fresh venv with empty
# caches, uv took 73 s here (13 s of it creating the venv and pip-installing uv), pip 193 s;
# pip is the fallback when uv cannot be installed or fails.
# --compile-bytecode writes every package's .pyc now (about 25 s on 2 cores), as pip does by
# default: uv does not, and where PYTHONDONTWRITEBYTECODE is set (these machines) Python never
# writes them, so every process (each notebook kernel, each test worker) compiled torch's
# sources again: 11.5 s to import torch, matplotlib and ipywidgets, 5.4 s with the .pyc files.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	if $(PY) -m pip install --quiet uv==$(UV_VERSION) && $(UV) pip install --quiet --compile-bytecode $(UV_FLAGS) --require-hashes -r $(LOCK); \
	then :; else $(PY) -m pip install --quiet --require-hashes -r $(LOCK); fi
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-resolve requirements.txt into requirements.lock (run it after editing requirements.txt;
# tests/test_setup.py fails while the two disagree).
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(UV) pip compile requirements.txt --quiet --generate-hashes $(UV_FLAGS) --custom-compile-command "make lock" -o $(LOCK)

lab: $(STAMP)
	$(VENV)/bin/jupyter-lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --ServerApp.root_dir=notebooks --LabApp.default_url=/lab/tree/START.ipynb

test: $(STAMP)
	# Chromium + a CJK font from apt (root or sudo); without them the browser tests skip (and fail under CI=true)
	bash scripts/install_browser.sh || echo "make test: could not install Chromium; the browser tests will be skipped"
	# one torch thread per worker: two workers on two cores, no thread oversubscription
	OMP_NUM_THREADS=1 MINILAB_FAST=1 $(PY) -m pytest -n $(WORKERS) --dist loadscope --nbval-lax --nbval-current-env --nbval-cell-timeout=900 tests notebooks

test-unit: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(WORKERS) -m "not slow and not browser" tests

# on a quiet machine: pretraining side by side with nanoGPT (about 10 minutes), a PPO iteration,
# 1 vs 2 torch threads for the notebooks' loops, the world's generation
bench: $(STAMP)
	$(PY) scripts/bench_pretrain.py
	$(PY) scripts/bench_ppo.py
	$(PY) scripts/bench_threads.py
	$(PY) scripts/bench_world.py

# Restart & Run All and fast mode of every notebook, one at a time (the default runs alone took 15
# minutes on a quiet 2-core machine); writes the table into docs/NOTEBOOKS.md
time-notebooks: $(STAMP)
	$(PY) scripts/time_notebooks.py --docs

# about 25 minutes; `minilab checkpoints` alone lists them, with what made each
checkpoints: $(STAMP)
	$(PY) -m minilab checkpoints --rebuild

# Notebook 08's stored runs (data/runs/hacking-nano.json): about 50 minutes on 2 cores. Run it after
# `make checkpoints`: the file records the checkpoints it was computed from.
hacking-runs: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m minilab.hacking

# Notebook 04's ladders: nine models trained like the bundled base models (data/runs/emergence.json,
# about 25 minutes on 2 cores) and five trained with the skills' worksheets too (data/runs/skills.json,
# about 20 minutes). Each file records the digest of the tokenizer it used.
emergence-runs: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m minilab.emergence
	OMP_NUM_THREADS=1 $(PY) -m minilab.emergence --skills

pipeline: $(STAMP)
	$(PY) -m minilab pipeline --size nano --seed 0

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs reports test-artifacts
