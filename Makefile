# Two commands matter: `make run` (serve the demo) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_URL ?= redis://127.0.0.1:6379/0
NODE_TESTS := tests/node
NODE_STAMP := $(NODE_TESTS)/node_modules/.package-lock.json

.PHONY: run test test-sqlite test-services lint format schema check-schema bench clean lock

# The venv holds exactly the versions in requirements-dev.lock (runtime and dev), then the
# project itself without resolving anything; it is made anew whenever a lock changes.
# `pip check` fails when pyproject.toml asks for something the lock lacks: run `make lock`.
$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $(STAMP)

# Regenerate the locks from pyproject.toml's ranges: requirements.lock (runtime, what the
# Dockerfile installs) and requirements-dev.lock (runtime pinned the same, plus the dev extra).
# Pins already in the files are kept while the ranges allow them; `make lock UPGRADE=1` moves
# each to the newest release its range allows. Markers keep one lock for every platform.
# uv comes from the dev lock itself, so this works even while the venv is out of date.
LOCK := $(BIN)/uv pip compile --quiet --universal pyproject.toml \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$$(grep -E '^uv==' requirements-dev.lock)"

lock: $(BIN)/uv
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev --constraint requirements.lock -o requirements-dev.lock

# The Node clients the suite drives (tests/node), installed from their lock file when
# node_modules is missing or older than it.
$(NODE_STAMP): $(NODE_TESTS)/package.json $(NODE_TESTS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20) is needed for the tests in $(NODE_TESTS)" >&2; exit 1; }
	npm ci --prefix $(NODE_TESTS) --no-audit --no-fund
	touch $(NODE_STAMP)

# The demo pays through WeChat Pay's simulator (channel/simulator/) with test keys made on the
# first run: createPaymentOrder, then POST /simulator/pay/<prepay_id> on port 8090 stands in for
# wx.requestPayment. The simulator keeps its records (the channel's side of the demo's week of
# payments, for reconciliation) in data/wechatpay-test-keys/state.json.
SIMULATOR_KEYS := data/wechatpay-test-keys
SIMULATOR_ENV := data/wechatpay-simulator.env

run: $(STAMP)
	$(BIN)/anfu migrate
	$(BIN)/anfu seed-demo
	$(BIN)/anfu payments keys $(SIMULATOR_KEYS) > $(SIMULATOR_ENV)
	$(BIN)/anfu payments simulator --keys $(SIMULATOR_KEYS) --state $(SIMULATOR_KEYS)/state.json & \
	simulator=$$!; trap 'kill $$simulator 2>/dev/null' EXIT INT TERM; \
	env $$(cat $(SIMULATOR_ENV)) $(BIN)/anfu serve

test: test-sqlite test-services

# Tests marked `once` (real clients: Node, subprocess servers) run in the SQLite pass, where a
# missing tool fails them, and are skipped in the PostgreSQL pass (tests/conftest.py).
test-sqlite: $(STAMP) $(NODE_STAMP)
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL ANFU_ONCE_TESTS=run $(BIN)/pytest

# Again on PostgreSQL and Redis when they answer (REQUIRE_SERVICES=1 makes their absence an error).
test-services: $(STAMP)
	@if $(BIN)/python tests/services_up.py "$${TEST_DATABASE_URL:-$(PG_URL)}" "$${TEST_REDIS_URL:-$(REDIS_URL)}"; then \
		TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$(PG_URL)}" TEST_REDIS_URL="$${TEST_REDIS_URL:-$(REDIS_URL)}" ANFU_ONCE_TESTS=skip $(BIN)/pytest; \
	elif [ -n "$$REQUIRE_SERVICES" ]; then \
		echo "PostgreSQL or Redis does not answer" >&2; exit 1; \
	else \
		echo "PostgreSQL or Redis does not answer: the suite ran on SQLite only"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/anfu export-schema --output schema.graphql

# Fails when schema.graphql differs from the code or breaks the API contract, or when
# clients/manifest.json is stale (`anfu persisted build`). The contract check needs the
# contract beside this clone (or CONTRACT_CHECK=path); without it, it is skipped.
CONTRACT_CHECK ?= ../shared/contract/check_contract.py

check-schema: $(STAMP)
	$(BIN)/anfu export-schema | diff -u schema.graphql - || (echo "schema.graphql is stale: run make schema" >&2; exit 1)
	$(BIN)/anfu persisted build --check
	@if [ -f "$(CONTRACT_CHECK)" ]; then \
		echo "$(BIN)/python $(CONTRACT_CHECK) schema.graphql --pending contract-pending.txt"; \
		$(BIN)/python "$(CONTRACT_CHECK)" schema.graphql --pending contract-pending.txt; \
	else \
		echo "contract check skipped: $(CONTRACT_CHECK) not found"; \
	fi

# The API under load beside a hand-written floor (bench/speed.py): wrk from Debian's packages,
# SQLite (demo kept in .bench/) and PostgreSQL (database anfu_bench) when it answers.
bench: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
	$(BIN)/python -m bench.speed $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data/*.sqlite3*
