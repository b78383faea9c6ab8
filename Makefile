# The README's commands. `make synth` and `make test` set everything up on a fresh machine first
# (a pinned .venv and the pinned CDK CLI in node_modules/), then do their job; a second run reuses both.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.servekit-installed
CDK := node_modules/.bin/cdk
CONFIG ?= servekit.yaml
PYTEST_ARGS ?=
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup synth test test-unit lint validate clean

setup: $(STAMP) $(CDK)

# Re-installs only when a pin changes.
$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==25.3
	@echo "Installing pinned Python dependencies into $(VENV) (first time: about 3 minutes, 3.6 GB)..."
	$(BIN)/pip install --progress-bar off -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --progress-bar off --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

synth: setup
	$(BIN)/servekit synth $(CONFIG)

validate: setup
	$(BIN)/servekit validate $(CONFIG)

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf cdk.out .servekit
