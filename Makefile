# Two commands do all set-up on a fresh machine:
#   make run    start the whole system on the embedded default (SQLite, local jobs)
#   make test   run the whole suite (installs what it needs, starts its own servers)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/pytest
# Everything that needs Django and a database; the builder's pure tests run once, in test-pure.
APP_TESTS := estafette pipelines runs builds releases triggers integrations migrate_from_estafette tests

.PHONY: run test lint checks test-peers test-pure test-builder test-sqlite test-postgres test-cockroach test-security test-deploy images system-deps clean frontend frontend-types test-frontend test-e2e

# builder/ is installed editable: `estafette-builder` (and `python -m builder`) then work from any directory.
$(VENV)/.runtime: requirements.txt builder/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check -e ./builder
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

system-deps:
	./scripts/system-deps.sh

# The web UI (frontend/, Node.js >= 20.19): skipped with a message when Node.js is missing. The build first
# regenerates frontend/src/api/schema.d.ts (the API's types, from its OpenAPI document: hence the venv).
frontend: $(VENV)/.runtime
	./scripts/frontend.sh build

frontend-types: $(VENV)/.runtime
	./scripts/frontend.sh types

test-frontend:
	./scripts/frontend.sh test

run: $(VENV)/.runtime frontend
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0
	./scripts/run.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

checks: $(VENV)/.dev
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	./scripts/frontend.sh check-types

# Pure tier: the builder and the manifest library, without Django.
test-pure: $(VENV)/.dev
	$(PYTEST) -p no:django builder estafette/lib/tests/test_env.py --ignore=builder/tests/executors

# Executor tier: the builder's executors on the host (bwrap) and on a real dockerd the tests start themselves.
test-builder: $(VENV)/.dev system-deps
	$(PYTEST) -p no:django builder/tests/executors

# Third-party artefacts the app and security tiers check the GitHub integration against (tests/peers/package.json:
# GitHub's webhook examples and OpenAPI description), installed with npm.
test-peers:
	./scripts/test-peers.sh

# The app tiers run on each of the three databases.
test-sqlite: $(VENV)/.dev test-peers
	ESTAFETTE_TEST_DB=sqlite $(PYTEST) -m 'not e2e' --ignore=tests/security --ignore=tests/deploy $(APP_TESTS)

test-postgres: $(VENV)/.dev system-deps test-peers
	ESTAFETTE_TEST_DB=postgres $(PYTEST) -m 'not e2e' --ignore=tests/security --ignore=tests/deploy $(APP_TESTS)

test-cockroach: $(VENV)/.dev system-deps test-peers
	ESTAFETTE_TEST_DB=cockroach $(PYTEST) -m 'not e2e' --ignore=tests/security --ignore=tests/deploy $(APP_TESTS)

# The security suite (tests/security/): each attack of a hostile build or webhook body against the real stack (bwrap,
# git, nats-server, the Procfile's processes over HTTP). Once, on SQLite: what it attacks does not depend on the database.
test-security: $(VENV)/.dev system-deps test-peers
	ESTAFETTE_TEST_DB=sqlite $(PYTEST) -m 'not e2e' tests/security

# Deployment: the server and builder images built from docker/*.Dockerfile on a dockerd the tests start (from a Debian
# base made with debootstrap, cached in var/test-cache/), a build through the docker executor inside the builder image,
# and the Helm chart (helm/estafette-ci) rendered, linted and validated, its Role checked against the job runner.
test-deploy: $(VENV)/.dev system-deps
	ESTAFETTE_TEST_DB=sqlite $(PYTEST) -m 'not e2e' tests/deploy

# The images the chart runs, tagged with the builder's version (the server's default ESTAFETTE_JOBS_BUILDER_IMAGE).
# BASE_IMAGE/NODE_IMAGE default to the public python:3.11-slim-bookworm and node:20-bookworm-slim.
IMAGE_TAG ?= $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' builder/__init__.py)
DOCKER_BUILD_ARGS ?=
images:
	docker build $(DOCKER_BUILD_ARGS) -f docker/server.Dockerfile -t estafette/estafette-ci-python-server:$(IMAGE_TAG) .
	docker build $(DOCKER_BUILD_ARGS) -f docker/builder.Dockerfile -t estafette/estafette-ci-builder-python:$(IMAGE_TAG) .

# Browser end-to-end tests: the built UI and the real API over HTTP in headless Chromium (screenshots
# in test-artifacts/e2e/).
# The login test runs a real OpenID Connect provider (npm oidc-provider, tests/tooling/oidc/): installed here from
# its lock file (the fixture would otherwise install it on first use).
test-e2e: $(VENV)/.dev system-deps frontend
	$(BIN)/python -c "from tests.tooling.oidc import install; install()"
	ESTAFETTE_TEST_DB=sqlite $(PYTEST) -m e2e tests/e2e

test: system-deps lint checks test-pure test-builder test-frontend test-sqlite test-postgres test-cockroach test-security test-deploy test-e2e

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
