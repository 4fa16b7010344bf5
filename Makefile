# Switchboard — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= uv
# Exports DATABASE_URL / AMQP_URL / REDIS_URL for local servers (starting them if stopped).
WITH_SERVICES = eval "$$(scripts/ensure-services.sh)" &&

.PHONY: help install services run call test test-fast lint format bench chaos migrate seed clean

help: ## Show this help
	@echo "Switchboard — realtime voice customer-support backend"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Settings come from the environment or .env (see README.md, docs/configuration.md)."

install: ## Install uv, the Python workspace, needed Debian packages and Azurite (npm)
	@scripts/bootstrap.sh
	@tools/azurite/install.sh

services: ## Start local Postgres, RabbitMQ and Redis if installed but stopped
	@scripts/ensure-services.sh >/dev/null

run: install ## Run the whole product (migrate, seed, all services; Ctrl-C stops)
	@$(WITH_SERVICES) $(UV) run --frozen switchboard up

SAY ?= Where is my order 100001?
call: install ## Talk to the running product (make run) once: make call SAY="Where is my order 100001?"
	@$(UV) run --frozen switchboard call --say "$(SAY)" $(CALL_ARGS)

test: install ## Run the whole test suite against real Postgres, RabbitMQ and Redis
	@$(WITH_SERVICES) UV="$(UV)" scripts/test.sh $(PYTEST_ARGS)

lint: install ## ruff and mypy
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy shared/src cli/src services/*/src chaos bench

format: install ## Format and fix what ruff can
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

bench: install ## Benchmarks: prints a table, writes bench-results/results.json
	@$(WITH_SERVICES) $(UV) run --frozen python -m bench $(BENCH_ARGS)

chaos: install ## Faults and hostile input under load, then a soak; prints a table, writes chaos-results/chaos.json
	@$(WITH_SERVICES) $(UV) run --frozen python -m chaos $(CHAOS_ARGS)

migrate: install ## Create the database if needed and apply migrations
	@$(WITH_SERVICES) $(UV) run --frozen switchboard migrate

seed: install ## Seed an empty database with demo data
	@$(WITH_SERVICES) $(UV) run --frozen switchboard seed

clean: ## Remove caches and results
	rm -rf .pytest_cache .ruff_cache .mypy_cache bench-results chaos-results artifacts
