# The two commands: `make demo` and `make test` (`make unit`: tests/unit, in about a minute).
# Each sets itself up from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test pytest pytest-main pytest-timing pytest-collect steady lint typecheck unit bench smoke container-test clean

# What ferryman needs to run (`make demo`, a phone), then the development tools on top
# (`make test`): pytest, mypy, Playwright, schemathesis, SeaweedFS… stay off a demo.
$(BIN)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@echo "ferryman installed in $(VENV): $$(du -sh $(VENV) | cut -f1) (what it needs to run;" \
		"make test adds the development tools)"
	touch $@

$(BIN)/.installed: $(BIN)/.runtime
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.runtime
	$(BIN)/ferryman --data-dir $${FERRYMAN_DATA_DIR:-./demo-data} demo

# The install a user gets (`pipx install .`, `pip install .`): ferryman built into a wheel
# and installed with the dependencies it declares and nothing else, in a virtualenv of its
# own (.venv has the development tools on top, where an import only they provide passes
# unseen). Made afresh when pyproject.toml changes (a dependency dropped goes with it);
# ferryman alone installed again when its source does. pip's cache keeps it short.
RUNTIME_VENV ?= .venv-runtime
RUNTIME_BIN := $(RUNTIME_VENV)/bin
PACKAGED := $(shell find src -type f -not -path '*/__pycache__/*' -not -path '*.egg-info/*')

$(RUNTIME_BIN)/.runtime: pyproject.toml $(PACKAGED) $(wildcard docs/*.md)
	$(if $(filter pyproject.toml,$?),rm -rf $(RUNTIME_VENV))
	test -x $(RUNTIME_BIN)/python || $(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_BIN)/pip install --quiet .
	touch $@

# CI's smoke test of that install (scripts/smoke_runtime.py): the demo, an unreachable
# link ending with its code, `ferryman web` answering, the chat demo, `doctor`.
smoke: $(RUNTIME_BIN)/.runtime
	$(RUNTIME_BIN)/python scripts/smoke_runtime.py $(RUNTIME_BIN)

# The container image (Containerfile) built with podman on a Debian base made by
# mmdebstrap, then its demo and page run from the built filesystem (tests/deploy): minutes
# of building, so apart from `make test`; skipped where podman, mmdebstrap or root is missing.
container-test: $(BIN)/.installed
	FERRYMAN_TEST_CONTAINER=1 $(PYTEST) -q -n 0 tests/deploy $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/deptry src

typecheck: $(BIN)/.installed
	$(BIN)/mypy src

# Tests run on PYTEST_WORKERS pytest-xdist workers (more than this machine's 2 cores: much
# of a test's time is spent waiting on child processes, servers and the disk); each worker
# has a PostgreSQL database of its own (docs/testing.md). PYTEST_WORKERS=0: one process.
# --dist load --maxschedchunk 1: a worker is handed the next test when it is free, and the
# slow tests come first (tests/conftest.py), so no crash loop starts last.
PYTEST_WORKERS ?= 4
XDIST := -n $(PYTEST_WORKERS) --dist load --maxschedchunk 1
# Bytecode kept (`__pycache__`, ignored by git), even where the environment sets
# PYTHONDONTWRITEBYTECODE (these sessions do): else every worker rewrites and compiles
# every test module again, and each of the hundreds of `ferryman` child processes the
# tests start compiles each module it imports from source (docs/testing.md).
# schemathesis' pytest plugin is not loaded: the API is fuzzed through its CLI
# (test_web_api.py), and each pytest process would import it (half a CPU-second).
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -p no:schemathesis

# The quick loop while working (docs/testing.md): tests/unit, the pure functions, parsers
# and checks of the code itself, without the tests marked slow (over 3 s, or starting a
# child process) or postgres: no database server, no browser, no server on loopback.
# About a minute on this 2-core machine loaded by others; `make test` runs everything.
UNIT_WORKERS ?= 2
unit: $(BIN)/.installed
	$(PYTEST) -q -n $(UNIT_WORKERS) -m "not slow and not postgres" tests/unit $(PYTEST_ARGS)

# The timing tests first, with lint and typecheck beside them: those tests mostly wait,
# and the CPU they leave idle is what mypy from a fresh clone needs (beside the rest of
# the suite, it took that CPU from the suite's workers). Then the rest of the suite on
# the whole machine. Beside them too, one collection of the whole suite (pytest-collect):
# it compiles and rewrites every test module once, which the rest's four workers then
# import warm instead of each compiling all of them at once (docs/testing.md). `make
# test` fails when any of them fails; a lint or type error still lets the rest run.
# `make pytest`: the tests alone, the rest then the timing ones.
test: $(BIN)/.installed
	@status=0; \
	$(MAKE) --no-print-directory -k -j4 lint typecheck pytest-timing pytest-collect || status=$$?; \
	$(MAKE) --no-print-directory pytest-main && exit $$status

# --durations=20: the slowest tests of the run, at its end. The tests marked `timing`
# (a wall-clock bound: "stopped within 5 s") run apart from the rest, on TIMING_WORKERS
# (4 on the 2 cores: they mostly wait; 18 to 21 s from a fresh clone where 2 workers took
# 23 to 28) with the longest first: a bound is asserted on a machine the
# suite's own workers do not load (docs/testing.md); PYTEST_ARGS that select none of
# them (exit 5) are no failure. That run collects only the files holding such a mark (or
# the paths PYTEST_ARGS names): collecting the whole suite again cost 95 s on a loaded
# machine.
TIMING_WORKERS ?= 4
TIMING_FILES = $(shell grep -rl --include='*.py' 'mark.timing' tests)
pytest: $(BIN)/.installed
	$(MAKE) --no-print-directory pytest-main
	$(MAKE) --no-print-directory pytest-timing
pytest-main: $(BIN)/.installed
	$(PYTEST) -q $(XDIST) --durations=20 -m "not timing" $(PYTEST_ARGS)
pytest-collect: $(BIN)/.installed
	$(PYTEST) -q --collect-only -p no:cacheprovider $(filter tests%,$(PYTEST_ARGS)) > /dev/null
pytest-timing: $(BIN)/.installed
	$(PYTEST) -q -n $(TIMING_WORKERS) --dist load --maxschedchunk 1 -m timing \
		$(or $(filter tests%,$(PYTEST_ARGS)),$(TIMING_FILES)) \
		$(filter-out tests%,$(PYTEST_ARGS)) || test $$? -eq 5  # 5: none selected

# Issue 57's steadiness check (docs/testing.md): `make pytest` STEADY_RUNS times in a row
# on STEADY_WORKERS workers while STEADY_LOAD processes spin on the CPU; it stops at the
# first failure and prints a table (logs in steady-logs/).
STEADY_RUNS ?= 3
STEADY_WORKERS ?= 4
STEADY_LOAD ?= 2
steady: $(BIN)/.installed
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m tests.support.steady --runs $(STEADY_RUNS) \
		--workers $(STEADY_WORKERS) --load $(STEADY_LOAD)

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(RUNTIME_VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
