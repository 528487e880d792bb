# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export MARGINS_DATA_DIR ?= $(CURDIR)/warehouse
export DAGSTER_HOME ?= $(abspath $(MARGINS_DATA_DIR))/dagster_home
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: help install install-dev manifest run test test-fast lint ui clean lock reliability audit ui-check docs report freshness bench bench-lake

help:
	@echo "make run      create .venv, install from the lock, run one full refresh, print a summary"
	@echo "make test     install dev dependencies and run the whole test suite on two workers (CI runs this)"
	@echo "make test-fast  the suite without the tests marked slow (own refreshes and dbt builds)"
	@echo "make ui       Dagster UI on http://127.0.0.1:3000"
	@echo "make ui-check screenshot of the asset lineage in headless Chromium; fails if the page shows an error"
	@echo "make docs     dbt docs site (dbt_project/target/static_index.html)"
	@echo "make report   HTML report with charts in \$$MARGINS_DATA_DIR/report/"
	@echo "make bench-lake  publish the built warehouse as a DuckLake on a local S3 API; publish and query times"
	@echo "make lint     ruff"
	@echo "make reliability  the fault suite: every fault, its outcome, rows lost, marts changed"
	@echo "make audit    pip-audit of requirements.lock (skips with a message when offline)"
	@echo "make lock     re-resolve requirements.lock from pyproject.toml (needs the package registry)"

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"

# Bytecode is compiled on first import, for the modules a command uses (about a quarter of the ~16,000 files
# installed), not all at install (`uv pip sync --compile-bytecode`: ~30 s on 2 cores). Where
# PYTHONDONTWRITEBYTECODE is set (as in some CI and agent shells) Python would never cache it, and every `margins`
# and `dbt` process would compile dagster, dbt-core, pandas and great-expectations again (~10 s of a refresh); the
# make targets unset it, so `make run` / `make test` leave the cache for later direct calls too.
unexport PYTHONDONTWRITEBYTECODE

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(VENV)/.installed

install-dev: install

# Parsed with the same profile the refresh builds with, so dbt can reuse the parse (a different profile path
# forces a full re-parse on every refresh). First the dbt files generated from seeds/reference/sources.csv
# (_sources.yml, macros/generated_source_ids.sql; pipelines/dbt_sources.py), rewritten only where they changed.
manifest: install
	$(BIN)/python -m pipelines.dbt_sources
	cd dbt_project && MARGINS_WORK_DB=$(abspath $(MARGINS_DATA_DIR))/work/margins.duckdb \
		../$(BIN)/margins-dbt parse --quiet --project-dir . --profiles-dir .

run: manifest
	$(BIN)/margins refresh

# Two workers (2 cores); each test module runs on one worker (its module-scoped fixtures are set up once) and the
# costliest modules are handed out first (tests/conftest.py). The bundled warehouse is built once per run (shared by
# both workers) and copied for the tests that write.
PYTEST_PARALLEL := -n 2 --dist loadscope --no-loadscope-reorder

test: manifest
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) --durations=15 $(PYTEST_ARGS)

# The fast tier for local work: everything but the tests marked slow (own refreshes, dbt builds, webserver).
test-fast: manifest
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) -m "not slow" $(PYTEST_ARGS)

# A screenshot of the lineage page in headless Chromium (Debian's package) driven by Playwright (no browser download).
ui-check: manifest
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/uv pip install --quiet --python $(BIN)/python "playwright==1.58.0"
	$(BIN)/python -m tests.ui_check

reliability: manifest
	$(BIN)/python -m tests.reliability

# Issue 7 benchmarks on SYNTHETIC history in a temp dir (bench/README.md); ~15 min on 2 cores.
bench: manifest
	$(BIN)/python -m bench

# Publish $(MARGINS_DATA_DIR)'s warehouse (after `make run`) to a DuckLake on a local S3 API (moto, 127.0.0.1) and
# time README query 1 from the lake and from the DuckDB file.
bench-lake: install
	$(BIN)/python -m bench.lake

# pip-audit needs PyPI's vulnerability data; where it cannot be reached (offline, or a registry mirror without the
# JSON API) the target says so and skips instead of failing or claiming a clean result.
audit: install
	@$(BIN)/uv pip install --quiet --python $(BIN)/python pip-audit 2>/dev/null || true
	@out=$$($(BIN)/pip-audit --requirement requirements.lock --disable-pip 2>&1); status=$$?; \
	if echo "$$out" | grep -q "could not be audited"; then \
		echo "audit: skipped: the vulnerability database is not reachable from this machine"; \
	else echo "$$out"; exit $$status; fi

# The dbt docs site (static, one file) from the working warehouse built by `make run`.
docs: manifest
	cd dbt_project && MARGINS_WORK_DB=$(abspath $(MARGINS_DATA_DIR))/work/margins.duckdb \
		../$(BIN)/dbt docs generate --static --quiet --project-dir . --profiles-dir .
	@echo "dbt docs: dbt_project/target/static_index.html"

# dbt source freshness: the newest successful live fetch per source (bundled loads don't count).
freshness: manifest
	cd dbt_project && MARGINS_WORK_DB=$(abspath $(MARGINS_DATA_DIR))/work/margins.duckdb \
		../$(BIN)/dbt source freshness --project-dir . --profiles-dir . || echo "freshness: some sources are stale"

report: install
	$(BIN)/margins report

lint: install
	$(BIN)/ruff check .

ui: manifest
	@mkdir -p "$(DAGSTER_HOME)"
	@test -f "$(DAGSTER_HOME)/dagster.yaml" || $(BIN)/python -c "from pipelines.runs import ensure_dagster_home; from pipelines.settings import Settings; ensure_dagster_home(Settings.from_env())"
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements.lock

clean:
	rm -rf dbt_project/target dbt_project/logs .pytest_cache
