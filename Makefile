# Tether's everyday commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install browser run test lint format types bench reliability migrate clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The custom-provider tests run an OAuth 2.0 server this project did not write (oidc-provider, on node).
OIDC := tests/fixtures/oidc
OIDC_STAMP := $(OIDC)/node_modules/.installed

$(OIDC_STAMP): $(OIDC)/package.json $(OIDC)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }
	npm ci --prefix $(OIDC) --no-audit --no-fund --loglevel=error
	touch $(OIDC_STAMP)

install: $(STAMP) $(OIDC_STAMP) ## Create .venv and install Tether with its development tools

# The web tests drive Debian's Chromium; Playwright's own browser download is never used.
browser: ## Install Debian's Chromium for the web tests, when it is missing
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# The demo puts the sandbox behind every platform it has a dialect of: their real cards,
# consent flows and error texts, with no real account. Set it empty to see them unset.
DEMO_STAND_INS ?= google_ads,google_analytics,youtube,meta_ads,meta_ads_system_user,linkedin_ads,tiktok_ads,pinterest_ads,snapchat_ads,amazon_ads,microsoft_ads,x_ads,callrail,semrush

run: $(STAMP) ## Run Tether embedded (SQLite in ./.tether, demo organization, sandbox)
	TETHER_SANDBOX_STANDS_IN_FOR="$${TETHER_SANDBOX_STANDS_IN_FOR-$(DEMO_STAND_INS)}" $(BIN)/tether serve

test: $(STAMP) $(OIDC_STAMP) browser ## Run the test suite (SQLite and PostgreSQL; the web app in Chromium)
	$(BIN)/pytest -n 2 --durations=25

lint: $(STAMP) ## Check style (ruff)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP) ## Reformat the code
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

types: $(STAMP) ## Check types (mypy, strict)
	$(BIN)/mypy

# Every benchmark at the sizes its issue names (two to three hours on 2 cores), each printing its
# targets as met or missed. BENCH_KEEP=DIR seeds the million-connection organization once per
# database and reuses it (connections_list.py and pages.py; see bench/README.md).
BENCH_KEEP ?=
bench: $(STAMP) ## Run the benchmarks (they print figures, and each target met or missed)
	for bench in bench/[!_]*.py; do \
	  case $$bench in \
	    bench/reliability.py) ;; \
	    bench/connections_list.py|bench/pages.py) \
	      $(BIN)/python $$bench $(if $(BENCH_KEEP),--keep $(BENCH_KEEP)) || exit 1 ;; \
	    *) $(BIN)/python $$bench || exit 1 ;; \
	  esac; \
	done

# A thousand kills, an hour of outage and a ten-minute broker and mail outage: over an hour on
# 2 cores, so not part of `make bench`. RELIABILITY_ARGS picks, e.g. "--scenario outage".
RELIABILITY_ARGS ?=
reliability: $(STAMP) ## Run the reliability benchmarks: crash, provider outage, broker and SMTP
	$(BIN)/python bench/reliability.py $(RELIABILITY_ARGS)

migrate: $(STAMP) ## Bring the database in TETHER_DATABASE_URL to the newest schema
	$(BIN)/tether migrate

clean: ## Remove the virtual environment and caches (not your data in ./.tether)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(OIDC)/node_modules
