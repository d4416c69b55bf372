# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

# Tests run against the real local PostgreSQL and a dedicated Redis database.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DEBUG=0 SECURE_HTTPS=0 STATIC_MANIFEST=0 \
	SECRET_KEY=test-secret-key-not-for-production \
	FIELD_ENCRYPTION_KEY=dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU= JOBS_IN_PROCESS=0 \
	AUDIT_SIGNING_KEY=test-audit-signing-key-not-for-production
# Production mode (DEBUG=0) defaults to the real providers: tests must never reach them, so their
# URLs go to a closed loopback port unless a test points them at the sandbox (the `sb` fixture).
TEST_ENV += ZALO_API_BASE=https://127.0.0.1:9/zalo ZALO_OAUTH_BASE=https://127.0.0.1:9/oauth \
	INFOBIP_BASE_URL=https://127.0.0.1:9/infobip

.PHONY: run test lint bench venv messages gettext chromium pytest clean manage

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# Compiled catalogs (.mo) are built from the committed .po files, never committed themselves.
messages: venv gettext
	@DEBUG=1 $(BIN)/python manage.py compilemessages --ignore .venv >/dev/null

gettext:
	@command -v msgfmt >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext)

# Local mode for every later `python manage.py …` in any shell, unless .env already exists.
.env:
	@printf '# Written by `make run`: local mode for manage.py commands in any shell. Delete for production.\nDEBUG=1\n' > $@

run: venv messages .env
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py run_stack

# Any management command with the project's settings: make manage ARGS="verify_audit_log"
manage: venv .env
	$(BIN)/python manage.py $(ARGS)

chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run >/dev/null

pytest: venv messages
	$(TEST_ENV) $(BIN)/python -m pytest $(ARGS)

test: venv messages chromium lint
	$(TEST_ENV) $(BIN)/python -m pytest -m "not slow" $(ARGS)

bench: venv messages
	$(TEST_ENV) $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) staticfiles var/*.sqlite3 var/audit-checkpoints
