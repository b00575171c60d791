# `make test` and `make demo` each create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test demo lint clean

$(BIN)/ravine: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(BIN)/ravine

test: $(BIN)/ravine
	$(BIN)/python -m pytest -n 2 -q tests src

demo: $(BIN)/ravine
	$(BIN)/ravine compare
	$(BIN)/ravine compare --config examples/studies/second_order.toml \
		--store ravine-runs/second_order.db --out ravine-runs/second_order

lint: $(BIN)/ravine
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) ravine-runs
