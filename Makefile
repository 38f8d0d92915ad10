# The two commands: `make demo` and `make test`. Each sets itself up from a fresh clone.
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
	$(BIN)/ruff check src tests bench faketg
	$(BIN)/ruff format --check src tests bench faketg
	$(BIN)/lint-imports

typecheck: $(BIN)/.installed
	$(BIN)/mypy src

unit: $(BIN)/.installed
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck unit

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
