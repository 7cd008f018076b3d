# Two entry points: `make demo` (set up, then compare meddel and random on the synthetic DataDEL; it
# ends with the path of the run's report.html) and `make test` (set up, then run the test suite).
# Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_RUN := runs/smoke-meddel-random  # where `delbench compare meddel random` writes by default

.PHONY: demo test install browser screenshot clean

$(BIN)/delbench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

install: $(BIN)/delbench

demo: install
	$(BIN)/delbench compare meddel random

test: install browser
	$(BIN)/pytest

# The browser tests drive a system Chromium through playwright; nothing downloads a browser build.
# Where none is found and apt-get runs as root (Debian, CI containers), install the distribution's
# package; elsewhere say so, and those tests skip with one line.
browser: install
	@if $(BIN)/python -c "import sys; from delbench.report.browser import find_chromium; sys.exit(find_chromium() is None)"; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get install -y --no-install-recommends chromium \
		|| { apt-get update && apt-get install -y --no-install-recommends chromium; } \
		|| echo "chromium could not be installed: the browser tests will skip"; \
	else \
		echo "no Chromium found and no apt-get as root: install chromium (or set DELBENCH_CHROMIUM), else the browser tests skip"; \
	fi

# docs/img/report.png: the demo's report.html as the browser tests see it
screenshot: demo browser
	$(BIN)/python -m delbench.report.browser $(DEMO_RUN)/report.html docs/img/report.png

clean:
	rm -rf $(VENV) runs
