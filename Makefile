# Quick start:  make serve   |   make test
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 5006
PYTEST_ARGS ?=
# serve-class (README, "Hosting a class"): where it listens, the browser's host:port, and
# the login: a JSON file {"user": "password", ...} given to --basic-auth
ADDRESS    ?= 127.0.0.1
ORIGIN     ?= $(ADDRESS):$(PORT)
BASIC_AUTH ?= credentials.json
# The versions that were tested: the package with every extra, everything `make test` needs
# (lock.txt), and the share of it that the Docker image installs, the [app] and [studies]
# extras (lock-runtime.txt).
LOCK         := requirements/lock.txt
RUNTIME_LOCK := requirements/lock-runtime.txt
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest release pyproject.toml allows.
LOCK_ARGS   ?=
UV_COMPILE    = $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
                --quiet --custom-compile-command 'make lock'

.PHONY: serve serve-class test install lock chromium lint bench clean

$(VENV)/.installed: $(LOCK) pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

serve: install
	$(VENV)/bin/panel serve app --port $(PORT) --address 127.0.0.1 --allow-websocket-origin=127.0.0.1:$(PORT) --allow-websocket-origin=localhost:$(PORT) --index app --plugins real_ensemble_lab.app.routes

# Re-resolve the locks after a change to pyproject.toml's dependencies (pins kept where
# they still fit); the runtime lock takes its versions from the full one.
lock:
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q 'uv>=0.5'
	$(UV_COMPILE) --all-extras $(LOCK_ARGS) -o $(LOCK)
	$(UV_COMPILE) --extra app --extra studies -c $(LOCK) -o $(RUNTIME_LOCK)

# A class: a login (--basic-auth), Panel's admin page (/admin) and the REAL_ENSEMBLE_LAB_*
# limits from the environment. The cookie secret comes from PANEL_COOKIE_SECRET (not the
# command line, which `ps` shows), drawn afresh at each start when unset.
serve-class: install
	@test -f "$(BASIC_AUTH)" || { echo "serve-class: $(BASIC_AUTH) is missing: write a JSON file of users and passwords, e.g. {\"class\": \"...\"}, or name one with BASIC_AUTH=..."; exit 2; }
	PANEL_COOKIE_SECRET="$${PANEL_COOKIE_SECRET:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')}" \
	$(VENV)/bin/panel serve app --address $(ADDRESS) --port $(PORT) --allow-websocket-origin=$(ORIGIN) --index app --plugins real_ensemble_lab.app.routes --liveness --admin --basic-auth $(BASIC_AUTH) --check-unused-sessions 5000 --unused-session-lifetime 10000

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

# The README's picture (the test suite writes its screenshots to test-results/ only).
screenshot: install chromium
	$(PY) docs/screenshot.py

clean:
	rm -rf $(VENV) .pytest_cache
