# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
LAMBDA_WHEELS := build/lambda-wheels/.fetched
ATTACK_CORPORA := build/attack-corpora/.fetched

.PHONY: demo test check lint typecheck unit bench clean system-deps lambda-wheels synth attack-corpora

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/agent-zero up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict src infra

check: lint typecheck

# Debian packages the browser tests drive (Chromium); a no-op once installed.
system-deps:
	bash scripts/install-system-deps.sh

# The Lambda functions' wheels (linux arm64, CPython 3.12, hash-checked against
# infra/lambda-requirements.txt), fetched from PyPI here so that synthesis runs offline.
$(LAMBDA_WHEELS): infra/lambda-requirements.txt | $(STAMP)
	$(BIN)/python -m infra.lambda_bundle fetch
	touch $@

lambda-wheels: $(LAMBDA_WHEELS)

# Prompt-injection texts for tests/security (spikee's seed sets, agentdojo's attack templates):
# the pinned wheels, hash-checked, fetched from PyPI here so the tests read them offline.
$(ATTACK_CORPORA): tests/security/attack-corpora.txt | $(STAMP)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
		--dest=build/attack-corpora --requirement=tests/security/attack-corpora.txt
	touch $@

attack-corpora: $(ATTACK_CORPORA)

# infra/cdk.out/AgentZeroStack.template.json with the demo bank: no network, Docker or AWS
# credentials. Deploying it is `npx aws-cdk deploy` (docs/deploy.md).
synth: $(LAMBDA_WHEELS)
	$(BIN)/python -m infra.app -c demoBank=true

test: check system-deps lambda-wheels attack-corpora
	$(BIN)/python -m pytest -n auto

bench: $(STAMP)
	$(BIN)/python benchmarks/core.py
	$(BIN)/python benchmarks/gateway.py

clean:
	rm -rf $(VENV) build infra/cdk.out .mypy_cache .ruff_cache .pytest_cache .hypothesis
