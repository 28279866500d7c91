# The newcomer's two commands: `make run` and `make test`. Both build their own venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The pages' browser libraries (npm, no build step): echarts, jsqr.
ASSETS := node_modules/.installed

.PHONY: run test lint format bench clean browser

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

test: lint $(ASSETS) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian's Chromium and a CJK font for the browser tests (never a browser download). If they
# cannot be installed, those tests are skipped with the reason printed.
browser:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei) || \
	  echo "browser tests will be skipped: could not install chromium and fonts-wqy-microhei"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service jobs

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var test-output node_modules *.egg-info
