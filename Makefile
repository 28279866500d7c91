# The newcomer's two commands: `make run` and `make test`. Both build their own venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The pages' browser libraries (npm, no build step): echarts, jsqr.
ASSETS := node_modules/.installed

.PHONY: run test lint format bench clean test-tools

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

# Debian's Chromium and a CJK font for the browser tests (never a browser download), and wrk
# for the benchmark's smoke run. If they cannot be installed, those tests are skipped with
# the reason printed.
test-tools:
	@command -v chromium >/dev/null && command -v wrk >/dev/null && fc-list :lang=zh | grep -q . || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei wrk) || \
	  echo "browser and benchmark smoke tests will be skipped: could not install chromium, fonts-wqy-microhei, wrk"

# The benchmark of ../shared/PERF.md: a table on the terminal and bench-results.json.
bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python -m tests.load.bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service jobs

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var test-output node_modules *.egg-info
