# The two commands: `make run` (the main job on the embedded default) and `make test`.
# Both build the virtualenv themselves from pyproject.toml + constraints.txt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= mlwatch.yaml

export PREFECT_HOME := $(CURDIR)/.mlwatch/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export EVIDENTLY_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1

.PHONY: run stop test lint venv clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "mlwatch needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/mlwatch run --config $(CONFIG)

stop: $(STAMP)
	$(BIN)/mlwatch stop --config $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.drift --rows 1000000 --json
	$(BIN)/python -m benchmarks.alert_quality --json
	$(BIN)/python -m benchmarks.scale --models 50 --json

clean:
	rm -rf $(VENV) .mlwatch
