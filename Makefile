# newsflow: `make up` runs the pipeline on this machine, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help venv train-venv up up-observed down kafka-up kafka-down k8s-tools compose-tool images-offline test unit fuzz e2e scale-e2e chaos bench bench-sink models ner-model ner-fast-model stance-model schemas lint format lock clean

help: ## Show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create the virtual environment with newsflow and its tools

# Exact versions from the lockfile first, then newsflow itself without resolving again.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# OBSERVE=1: Prometheus too (Debian's package), scraping every service on loopback.
OBSERVE ?= 0
# WORKER_INSTANCES=n: processes of each model worker (entities, stance); default one per core.
# KAFKA_PORT, KAFKA_CONTROLLER_PORT: the local broker's ports, to run beside another Kafka.
KAFKA_PORT ?= 9092
KAFKA_CONTROLLER_PORT ?= 9093
WORKER_INSTANCES ?=
up: venv ## Start the broker and every service in the foreground, watching ./inbox (Ctrl-C stops)
	OBSERVE=$(OBSERVE) WORKER_INSTANCES=$(WORKER_INSTANCES) KAFKA_PORT=$(KAFKA_PORT) \
		KAFKA_CONTROLLER_PORT=$(KAFKA_CONTROLLER_PORT) deploy/local/up.sh

up-observed: ## `make up` plus Prometheus on http://127.0.0.1:9090 with the alert rules
	$(MAKE) up OBSERVE=1

down: ## Stop everything `make up` started, broker included
	deploy/local/down.sh

kafka-up: ## Start only the local Kafka broker (in the background)
	$(PYTHON) deploy/kafka/localkafka.py start

kafka-down: ## Stop the local Kafka broker
	$(PYTHON) deploy/kafka/localkafka.py stop

k8s-tools: ## Build kustomize and fetch the CRDs that deploy/k8s is checked against (once, needs Go)
	$(PYTHON) deploy/tools.py fetch k8s

compose-tool: ## Build the `docker compose` plugin where Docker came without it (Debian's docker.io; once, needs Go)
	$(PYTHON) deploy/tools.py fetch compose

images-offline: ## Make the images docker-compose.yml pulls from Debian's packages, where Docker Hub is out of reach (root)
	deploy/docker/offline-images.sh

test: venv k8s-tools ## Run the whole test suite (starts its own broker)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: venv ## The tests of pure logic only (tests/unit): no broker, Java or database; under a minute
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# The test suite tries a few dozen generated files per parser test; this tries FUZZ_EXAMPLES,
# different ones on every run.
FUZZ_EXAMPLES ?= 20000
fuzz: venv ## Fuzz the watcher's parsers with generated files (FUZZ_EXAMPLES per test; about 40 minutes)
	NEWSFLOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/unit/test_watcher_fuzz.py -p no:cacheprovider -o timeout=0 $(PYTEST_ARGS)

# SEED=n replays a run (the seed is printed at the start of every run).
E2E_ARTICLES ?= 500
CHAOS_ARTICLES ?= 2000

e2e: venv ## The whole pipeline on its own broker: a mixed corpus in, the store checked, a summary table
	$(BIN)/python -m tests.e2e run --articles $(E2E_ARTICLES) $(if $(SEED),--seed $(SEED))

scale-e2e: venv ## make e2e with two instances of every worker and the sink (on PostgreSQL), the second of each SIGKILLed mid-stream
	$(BIN)/python -m tests.e2e run --instances 2 --kill-midstream --articles $(E2E_ARTICLES) $(if $(SEED),--seed $(SEED))

chaos: venv ## Fault-free run, then the same corpus while services are killed and broker and store go away; stores must match
	$(BIN)/python -m tests.e2e chaos --articles $(CHAOS_ARTICLES) $(if $(SEED),--seed $(SEED))

# The watcher's and the sink's own benchmarks first (smaller than their full runs, to stay
# within 20 minutes on 2 cores), then the pipeline beside the limit of the same work in one
# process; docs/benchmarks.md, its plots and docs/benchmarks.json come out.
bench: venv ## Throughput, latency and footprint beside the in-process limit: docs/benchmarks.md (< 20 min)
	@mkdir -p data/bench && date +%s > data/bench/started
	$(BIN)/python tests/benchmarks/watcher.py --large 50 --json data/bench/watcher.json
	$(BIN)/python tests/benchmarks/sink.py --scale 0.3 --json data/bench/sink.json
	$(BIN)/python -m tests.benchmarks --out docs --started-file data/bench/started \
		--watcher-json data/bench/watcher.json --sink-json data/bench/sink.json

bench-sink: venv ## Sink store upserts, rows/s for SQLite and PostgreSQL (needs PostgreSQL installed)
	$(BIN)/python tests/benchmarks/sink.py --json data/bench/sink.json

schemas: venv ## Regenerate schemas/ from the record models
	$(BIN)/newsflow schemas --out schemas

lint: venv ## Check style (ruff), which part of newsflow imports which (importlinter), types (mypy)
	$(BIN)/ruff check services tests deploy
	$(BIN)/ruff format --check services tests deploy
	$(BIN)/lint-imports
	$(BIN)/mypy

format: venv ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix services tests deploy
	$(BIN)/ruff format services tests deploy

models: ner-model ner-fast-model stance-model ## Train the models from ../shared/data into models/ (fixed seeds)

# Fine-tuning needs PyTorch: it gets its own environment, so the services' (.venv, the
# image) never holds it.
TRAIN_VENV := .venv-train
train-venv: $(TRAIN_VENV)/.installed ## Create .venv-train: newsflow plus PyTorch and transformers, for make ner-model

$(TRAIN_VENV)/.installed: pyproject.toml requirements-train.lock
	test -x $(TRAIN_VENV)/bin/python || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TRAIN_VENV)/bin/python -m pip install --quiet -r requirements-train.lock
	$(TRAIN_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

ner-model: train-venv ## Fine-tune the transformer NER into models/ner (BERT teacher, MiniLM student; hours on 2 cores)
	nice -n 10 $(TRAIN_VENV)/bin/python -m newsflow.lab.entities.finetune

ner-fast-model: venv ## Train the fast spaCy NER into models/ner-fast (about an hour on 2 cores)
	$(BIN)/python -m newsflow.lab.entities.train

# The stance model on FNC-1's training files only: three story splits and the official one,
# each trained and scored, the first story split's model saved (fixed seeds; low priority).
FNC1_DIR ?= ../shared/data/fnc1
STANCE_OUT ?= models/stance
stance-model: train-venv ## Fine-tune the stance model into models/stance and measure it on held-out stories (about 2 hours on 2 cores)
	nice -n 10 $(TRAIN_VENV)/bin/python -m newsflow.lab.stance.train --data $(FNC1_DIR) --out $(STANCE_OUT)

lock: ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/python -m piptools compile --quiet --no-emit-find-links --extra dev --extra models --strip-extras -o requirements.lock pyproject.toml
	$(BIN)/python -m piptools compile --quiet --no-emit-find-links --extra models --extra train --strip-extras --constraint requirements.lock -o requirements-train.lock pyproject.toml

clean: down ## Remove the environment, broker data and local run state (not inbox/ or data/)
	rm -rf $(VENV) $(TRAIN_VENV) .kafka .run .pytest_cache
