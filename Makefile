# The README's commands. `make synth` and `make test` set everything up on a fresh machine first
# (a pinned .venv and the pinned CDK CLI in node_modules/), then do their job; a second run reuses both.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.servekit-installed
CDK := node_modules/.bin/cdk
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.servekit-installed
CONFIG ?= servekit.yaml
PYTEST_ARGS ?=
# What app.py imports from site-packages (python -O app.py; the compileall step below; test_warm_synth.py checks it).
APP_PACKAGES := aws_cdk constructs jsii cdk_nag pydantic pydantic_core cattrs cattr attr attrs yaml dateutil \
	typing_inspection annotated_types _distutils_hack publication.py six.py typing_extensions.py \
	'__editable___servekit_*_finder.py'
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup synth test test-unit lint scan validate clean

setup: $(STAMP) $(CDK)

# Re-installs only when a pin changes.
$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==25.3
	@echo "Installing pinned Python dependencies into $(VENV) (first time: about 2 to 4 minutes, 3.8 GB)..."
	$(BIN)/pip install --progress-bar off -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --progress-bar off --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@# cdk.json runs app.py with -O (jsii then skips its Python-side type checks): compile what it imports for -O
	@# once here, since Python does not write that bytecode where PYTHONDONTWRITEBYTECODE is set (docs/performance.md).
	site=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
	  $(BIN)/python -m compileall -q -j 0 -o 1 $$(for p in $(APP_PACKAGES); do echo $$site/$$p; done) > /dev/null
	@touch $@

# checkov has pins of its own that cannot share .venv (see requirements-checkov.txt): a second, small venv.
$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet pip==25.3
	$(CHECKOV_VENV)/bin/pip install --quiet --progress-bar off -r requirements-checkov.txt
	@touch $@

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

synth: setup
	$(BIN)/servekit synth $(CONFIG)

validate: setup
	$(BIN)/servekit validate $(CONFIG)

# ruff (pyproject's [tool.ruff], under a second), then lint-imports: the layers contract of pyproject.toml over
# every import statement (docs/architecture.md), then the suite.
test: setup $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

# checkov's CloudFormation checks over what `make synth` wrote (offline); fails on any finding servekit has not
# skipped with a reason in the resource's Metadata (those show as SKIPPED with the reason).
scan: synth $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov -d cdk.out --framework cloudformation --compact --quiet --skip-download

clean:
	rm -rf cdk.out .servekit
