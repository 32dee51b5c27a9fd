# `make demo` and `make test` set up .venv themselves on a fresh clone.
VENV := .venv
BIN := $(VENV)/bin
# The offline copy beside the project, where there is one; else the CLI's default (./data).
ifneq ($(wildcard ../shared/data),)
export SWEEPS_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: demo test bench clean

$(BIN)/sweeps: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/sweeps
	$(BIN)/sweeps demo

test: $(BIN)/sweeps
	$(BIN)/python -m pytest -q --durations=10 -n 2 --dist loadfile

# Every bench/ script, its JSON in bench-results/ (about 50 minutes on 2 cores; not part of the tests).
bench: $(BIN)/sweeps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info bench-results
