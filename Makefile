# Everything bootstraps itself: a fresh clone needs only `make demo` or `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: demo test test-homeassistant check lint typecheck bench bench-quick system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The daemon on the simulator, with an embedded broker when none answers.
# CI runs it as `make demo DEMO_ARGS="--duration 75 --no-dashboard"`.
DEMO_ARGS ?=
demo: $(STAMP)
	$(VENV)/bin/postured demo $(DEMO_ARGS)

system-deps:
	bash .ci/system-deps

# The whole suite; installs mosquitto, dbus and chromium from Debian when missing.
test: $(STAMP) system-deps
	$(PY) -m pytest -q

# A real Home Assistant core (cached venv, see .ci/homeassistant) against our bridges.
test-homeassistant: $(STAMP) system-deps
	bash .ci/homeassistant >/dev/null
	POSTURED_HOMEASSISTANT=1 $(PY) -m pytest -q -m homeassistant tests/homeassistant

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck test

bench: $(STAMP) system-deps
	$(PY) bench/run.py

bench-quick: $(STAMP) system-deps
	$(PY) bench/run.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
