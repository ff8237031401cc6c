# Everything installs into .venv; every target works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SKILLSMITH_HOME ?= $(CURDIR)/.skillsmith
# The local Dagster instance, shared by `make dev` and `skillsmith mine` (which defaults to it).
DEV_DAGSTER_HOME ?= $(SKILLSMITH_HOME)/dagster_home

.PHONY: install demo test faults bench dev skills-db-setup skills-mine retrain stats clean

# The compiled engines are built by the editable install: rebuild when their sources change.
$(STAMP): pyproject.toml setup.py $(wildcard skillsmith_assets/*.c skillsmith_assets/*/*.c)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

skills-db-setup: $(STAMP)
	$(BIN)/skillsmith db-setup

demo: $(STAMP)
	$(BIN)/skillsmith demo

skills-mine: $(STAMP)
	$(BIN)/skillsmith mine

retrain: $(STAMP)
	$(BIN)/skillsmith retrain

stats: $(STAMP)
	$(BIN)/skillsmith stats

dev: $(STAMP)
	mkdir -p $(DEV_DAGSTER_HOME)
	test -f $(DEV_DAGSTER_HOME)/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > $(DEV_DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$${DAGSTER_HOME:-$(DEV_DAGSTER_HOME)} $(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The fault suite alone (it is part of `make test` too): servers started, stopped and killed under load.
faults: $(STAMP)
	$(BIN)/python -m pytest -q tests/ops/test_faults.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .skillsmith .pytest_cache .hypothesis
