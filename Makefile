# One entry point for everything. Each target installs what it needs.
SHELL := /bin/bash
# uv from PATH, else the copy `make uv` installs with pip (run as a module).
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PYTEST_ARGS ?=

.PHONY: help uv deps web-deps web-build web-test lint typecheck pytest docs test run bench bench-peers bench-quick fuzz clean

help:
	@echo "make run    - run the system: web on :3000, Tasks API on :8000"
	@echo "make test   - lint, type-check and run every test"
	@echo "make bench  - run the benchmarks (micro, HTTP, peers and start-up); make bench-quick for a smoke run"
	@echo "make bench-peers - authbridge against the libraries a user would pick instead"
	@echo "make lint   - ruff and mypy --strict only"
	@echo "make docs   - build the documentation site (mkdocs --strict) into site/"
	@echo "make fuzz   - Atheris over the token parser (FUZZ_SECONDS=60)"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet uv

deps: uv
	@$(UV) sync --frozen --all-extras --all-packages --quiet

# npm ci again only when the lockfile changes; next build again only when a source changes.
web/node_modules/.installed: web/package-lock.json web/.npmrc
	cd web && npm ci --no-audit --no-fund
	@touch $@

web-deps: web/node_modules/.installed

WEB_SOURCES := $(shell find web/app web/components web/hooks web/lib web/types web/public -type f 2>/dev/null) \
	web/package.json web/next.config.ts web/tsconfig.json web/instrumentation.ts

web/.next/BUILD_ID: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build

web-build: web/.next/BUILD_ID

web-test: web-deps
	cd web && npm run typecheck && npm test

lint: deps
	$(UV) run ruff check src apps tests bench scripts examples
	$(UV) run ruff format --check src apps tests bench scripts examples
	$(UV) run mypy

typecheck: deps
	$(UV) run mypy

pytest: deps
	$(UV) run pytest $(PYTEST_ARGS)

# The site is built with --strict: a broken link, anchor, page or docstring reference fails
# the run. Not --quiet: it silences the warnings, and strict mode then counts none of them.
docs: deps
	NO_MKDOCS_2_WARNING=1 $(UV) run mkdocs build --strict

test: lint docs web-test pytest

run: deps web-build
	$(UV) run python scripts/run_system.py

bench: deps
	$(UV) run python bench/verify.py --markdown bench/results/verify.md
	$(UV) run python bench/http_bench.py
	$(UV) run python bench/http_frameworks.py
	UV="$(UV)" $(UV) run python bench/http_peers.py
	$(UV) run python bench/startup.py

# The peers live in their own environment (.venv-bench-peers, from bench/peers/requirements.txt),
# never in the project's: bench/http_peers.py installs it with uv.
PEERS_ARGS ?=
bench-peers: deps
	UV="$(UV)" $(UV) run python bench/http_peers.py $(PEERS_ARGS)

bench-quick: deps
	$(UV) run python bench/verify.py --quick
	$(UV) run python bench/http_bench.py --quick --out /tmp/authbridge-bench
	$(UV) run python bench/http_frameworks.py --quick --out /tmp/authbridge-bench
	UV="$(UV)" $(UV) run python bench/http_peers.py --quick --out /tmp/authbridge-bench
	$(UV) run python bench/startup.py --quick

# Coverage-guided fuzzing of the token path (Atheris is fetched for the run, not a dependency).
FUZZ_SECONDS ?= 60
fuzz: deps
	$(UV) run --with atheris python tests/security/fuzz_parser.py -max_total_time=$(FUZZ_SECONDS)

clean:
	rm -rf .venv .venv-bench-peers .mypy_cache .ruff_cache .pytest_cache
