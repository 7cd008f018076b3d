# Two entry points: `make demo` (set up, then compare meddel and random on the synthetic DataDEL) and
# `make test` (set up, then run the test suite). Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install clean

$(BIN)/delbench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

install: $(BIN)/delbench

demo: install
	$(BIN)/delbench compare meddel random

test: install
	$(BIN)/pytest

clean:
	rm -rf $(VENV) runs
