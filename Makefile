# One entry point for everything. Each target installs what it needs.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_ARGS ?=

.PHONY: help uv deps lint typecheck pytest test run bench fuzz clean

help:
	@echo "make run    - run the system (API, and the web app once it exists)"
	@echo "make test   - lint, type-check and run every test"
	@echo "make bench  - run the benchmarks"

uv:
	@command -v uv >/dev/null 2>&1 || test -x "$(UV)" || python3 -m pip install --quiet uv

deps: uv
	@$(UV) sync --frozen --quiet

lint: deps
	$(UV) run ruff check src tests bench
	$(UV) run ruff format --check src tests bench

typecheck: deps
	$(UV) run mypy

pytest: deps
	$(UV) run pytest $(PYTEST_ARGS)

test: lint typecheck pytest

run: deps
	$(UV) run authbridge serve

bench: deps
	$(UV) run python bench/verify.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
