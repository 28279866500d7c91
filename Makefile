# The newcomer's two commands: `make run` and `make test`. Both build their own venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The pages' browser libraries (npm, no build step): echarts, jsqr; and the tests' lighthouse
# (pinned 12.2.3: 13 needs Node 22) with puppeteer-core, which drives it on a signed-in page.
ASSETS := node_modules/.installed

.PHONY: run test lint format bench chaos clean test-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(ASSETS)

run: $(STAMP) $(ASSETS)
	$(BIN)/festival run

test: lint $(ASSETS) test-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# From Debian's packages: Chromium and a CJK font for the browser tests (never a browser
# download), wrk for the benchmark's smoke run, nginx and PgBouncer for the topology test. If
# they cannot be installed, those tests are skipped with the reason printed.
TEST_PACKAGES := chromium fonts-wqy-microhei wrk nginx pgbouncer
test-tools:
	@command -v chromium >/dev/null && command -v wrk >/dev/null && fc-list :lang=zh | grep -q . \
	  && test -x /usr/sbin/nginx && test -x /usr/sbin/pgbouncer || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_PACKAGES)) || \
	  echo "some tests will be skipped: could not install $(TEST_PACKAGES)"

# The benchmark of ../shared/PERF.md: a table on the terminal and bench-results.json.
bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python -m tests.load.bench $(BENCH_ARGS)

# Single faults under real load, reconciled with the database: a table and chaos-results.json.
# Needs PostgreSQL's binaries (Debian's postgresql package, else pgserver's) and, for the
# rolling restart, nginx and pgbouncer (installed by test-tools).
chaos: $(STAMP) test-tools
	$(BIN)/python -m tests.chaos.run $(CHAOS_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service jobs
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var test-output node_modules *.egg-info bench-results.json chaos-results.json
