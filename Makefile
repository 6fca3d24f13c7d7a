# Everything bootstraps itself: a fresh clone needs only `make demo` or `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: flash-firmware demo test test-slow test-all test-homeassistant check lint typecheck bench bench-quick system-deps clean

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

# MicroPython's WebAssembly port (npm) for tests/firmware, pinned by its package-lock.json.
WASM_DIR := tests/firmware/wasm
WASM_STAMP := $(WASM_DIR)/node_modules/.package-lock.json
$(WASM_STAMP): $(WASM_DIR)/package-lock.json
	npm ci --prefix $(WASM_DIR) --no-audit --no-fund --loglevel=error
	touch $@

# Flash a connected ESP32 board (docs/firmware.md): make flash-firmware PORT=... BIN=...
PORT ?= /dev/ttyACM0
BIN ?=
flash-firmware:
	bash firmware/flash.sh "$(PORT)" "$(BIN)"

# The suite without the tests marked slow (long real-peer runs); installs mosquitto, dbus,
# chromium and Node.js from Debian when missing. Under 6 minutes on 2 cores.
test: $(STAMP) system-deps $(WASM_STAMP)
	$(PY) -m pytest -q -m "not slow"

# The tests marked slow: whole daemons against real peers, long evaluations. CI runs both.
test-slow: $(STAMP) system-deps $(WASM_STAMP)
	$(PY) -m pytest -q -m slow

test-all: test test-slow

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
