# Two commands set everything up on a machine that has only Python >= 3.11:
#   make demo   virtualenv, install, migrate, demo data, server on http://127.0.0.1:8000
#   make test   the whole test suite (services it cannot reach are skipped, unless CI=true)
#   make backup / make restore BACKUP=backups/<date>   docs/operations.md « Sauvegarde et restauration »

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The links of the e-mails (account confirmation, new password) point at the server started here:
# `make demo PORT=8101` sends links to http://127.0.0.1:8101. Set SITE_URL to override.
SITE_URL ?= http://$(HOST):$(PORT)

.PHONY: demo serve install install-dev migrate seed test lint typecheck bench chaos backup restore clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py publish_open_data

demo: seed
	@echo ""
	@echo "Fabriques de territoires : http://$(HOST):$(PORT)/ (comptes de démonstration dans README.md)"
	@echo "Les e-mails (liens de confirmation, nouveau mot de passe) s'affichent dans ce terminal."
	SITE_URL=$(SITE_URL) $(BIN)/python manage.py runserver $(HOST):$(PORT)

serve: install
	SITE_URL=$(SITE_URL) $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The suite runs in one process per core (pytest-xdist); TEST_WORKERS=0 runs it in this process.
# Each worker has its own test database (test_<name>_gw0, ...); the tests that start workers or
# servers give them queues, ports and folders of their own.
TEST_WORKERS ?= auto

# COVERAGE_FLOOR=94 measures branch coverage and fails under it (.ci/run): coverage.py starts
# before pytest and follows every Python process the run starts (the test workers from their
# first import, the Celery workers and servers the integration tests start), then combines them.
test: install-dev
ifdef COVERAGE_FLOOR
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report --fail-under=$(COVERAGE_FLOOR)
else
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)
endif

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy .

# Needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://... (see bench/README.md);
# writes docs/benchmarks.md. Some: make bench BENCH="letters http"; options: BENCH_ARGS=--quick
bench: install-dev
	$(BIN)/python -m bench.run $(BENCH) $(BENCH_ARGS)

# Needs DATABASE_URL=postgres://... and redis-server (the run starts its own); writes
# bench/results/chaos/ and its section of docs/benchmarks.md. Options: CHAOS_ARGS="--short --seed 42"
chaos: install-dev
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

# The database (pg_dump, or a copy of SQLite) and the media files into BACKUP_DIR/<date>/, with a
# manifest; prints the directory. Restore it into a fresh database and media root, checked against
# the manifest: make restore BACKUP=backups/<date> [RESTORE_ARGS="--database-url ... --media-root ..."]
backup: install
	$(BIN)/python manage.py backup

restore: install
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=backups/<date> [RESTORE_ARGS=...]" >&2; exit 2; }
	$(BIN)/python manage.py restore "$(BACKUP)" $(RESTORE_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache
