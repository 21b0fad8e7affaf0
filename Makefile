# TeachBench: `make run` (the quick-start sweep) and `make test` (the default test suite)
# each create .venv when it is missing. torch 2.13.0 (CPU) is installed before anything
# that depends on it, so pip never pulls the multi-GB CUDA build.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.teachbench-installed
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export SB3_LOGDIR ?= /tmp/teachbench-sb3
export WANDB_SILENT ?= true
# Test processes (pytest-xdist): one per core of the 2-core CI machine. Tests are grouped by file
# (--dist loadfile), so a module's fixtures are built once. TEST_WORKERS=0 runs them in this process.
# The slow tests (test-slow, test-all) still run in one process: they were not checked in two.
TEST_WORKERS ?= 2

.PHONY: venv run test test-slow test-all chromium bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test,browser,miniwob]"
	touch $(STAMP)

venv: $(STAMP)

## The main job: random vs ALP-GMM on the gridworld, 2 seeds, PPO; ends with the leaderboard.
run: venv
	$(BIN)/teachbench experiment=quickstart

## Debian's Chromium and ChromeDriver for the browser checks (our replay through Playwright,
## MiniWoB++ through Selenium), installed when missing and we are root.
chromium:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) || echo "warning: could not install chromium: browser tests will be skipped"; \
	else echo "warning: /usr/bin/chromium missing and not root: browser tests will be skipped"; fi

## The default test suite (< 15 min on 2 cores; ~8 min in 2 worker processes).
test: venv chromium
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

## Longer tests (real training runs, kill-and-resume, few-hundred-form browser replay).
test-slow: venv chromium
	$(BIN)/python -m pytest -q -m slow

test-all: venv chromium
	$(BIN)/python -m pytest -q -m "slow or not slow"

clean:
	rm -rf runs outputs multirun wandb
