# The two commands: `make demo` and `make test` (`make unit`: the fast tests only).
# Each sets itself up from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/ferryman --data-dir $${FERRYMAN_DATA_DIR:-./demo-data} demo

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(BIN)/.installed
	$(BIN)/mypy src

# The quick loop while working: every test but those marked slow (crash loops, CLI runs
# in child processes, whole-engine media runs); `make test` runs them all.
unit: $(BIN)/.installed
	$(BIN)/pytest -q -m "not slow" $(PYTEST_ARGS)

test: lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
