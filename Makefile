# Quick start:  make serve   |   make test
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 5006
PYTEST_ARGS ?=

.PHONY: serve test install chromium lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install
	$(VENV)/bin/panel serve app --port $(PORT) --address 127.0.0.1 --allow-websocket-origin=127.0.0.1:$(PORT) --allow-websocket-origin=localhost:$(PORT) --index app --plugins app.routes

# Debian's chromium drives the browser tests; install it when missing and apt is there.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and apt-get is not available: install Chromium by hand"; exit 1; fi; \
	fi

lint: install
	$(VENV)/bin/ruff check engine app tests benchmarks
	@if [ -x $(VENV)/bin/hadolint ]; then $(VENV)/bin/hadolint Dockerfile && echo "hadolint: Dockerfile ok"; else echo "hadolint not available on this platform: Dockerfile not linted"; fi

test: install chromium lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/bench_population.py
	$(PY) benchmarks/bench_agents.py
	$(PY) benchmarks/bench_sweep.py
	$(PY) benchmarks/bench_app.py

clean:
	rm -rf $(VENV) .pytest_cache
