# sequence-signer: `make dev` runs the daemon, `make test` runs the tests.
# Both install everything they need into .venv first (idempotent).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test test-slow crash-soak lint proto proto-check buf-lint check clean image-test bench soak

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run the daemon in dev mode (state in .dev-state/, generated dev master key).
dev: $(STAMP)
	$(BIN)/sequence-signer dev

## Run the test suite (unit, vectors, policy cases, security, property, integration).
test: $(STAMP)
	$(BIN)/pytest -q -m "not slow" --cov --cov-report=term:skip-covered

## Tests marked slow (minutes).
test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow

## 500 SIGKILLs of a real daemon under writes (minutes; not part of make test).
crash-soak: $(STAMP)
	$(BIN)/python scripts/crash_soak.py --kills 500

## Benchmarks vs the floors of DESIGN.md section 7 (prints figures and verdicts; not part
## of test/CI). `make bench BENCH_ARGS=--quick` takes about a minute; `--profile` adds py-spy.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## Soak: a real daemon under mixed signing load (all venues, refusals, wallet ops) for a
## set time; prints throughput, errors by code and the daemon's RSS growth (not part of
## test/CI). Default 10 minutes; `make soak SOAK_ARGS="--seconds 60"` for a short one.
SOAK_ARGS ?=
soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

## Static checks: generated code fresh, protos linted, ruff format + lint, mypy strict.
lint: $(STAMP) proto-check buf-lint
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

proto-check: $(STAMP)
	$(BIN)/python scripts/gen_proto.py --check

node_modules/.bin/buf: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

buf-lint: node_modules/.bin/buf
	node_modules/.bin/buf lint

check: lint test

## Build the container image and run it for real (root, minutes; not part of `test`/CI).
image-test:
	bash scripts/image_test.sh

clean:
	rm -rf $(VENV) node_modules .dev-state .coverage
