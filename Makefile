# Lotsa: `make run` serves the demo, `make test` runs the whole suite.
# Both set everything up first on a fresh machine (Python 3.11+ needed).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app webapp
HOST   ?= 127.0.0.1
PORT   ?= 5000
# Access log without query strings: searches carry names and identity numbers.
ACCESS_LOG_FORMAT := %(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss
# gunicorn workers: 2 x cores + 1, as in production.
WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 + 1 )))

.PHONY: run test lint install install-test translations migrate chromium e2e bench wrk media-tools media clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall when the dependency list changes.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

translations: $(VENV)/.installed
	$(FLASK) translate compile

migrate: $(VENV)/.installed
	$(FLASK) db upgrade

run: install translations migrate
	$(FLASK) demo seed --if-empty
	@echo "Serving Lotsa on http://$(HOST):$(PORT) (gunicorn, $(WORKERS) workers) with the scheduler beside it. Ctrl-C stops both."
	@$(FLASK) scheduler run & SCHEDULER=$$!; \
	trap 'kill $$SCHEDULER 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - \
		--access-logformat '$(ACCESS_LOG_FORMAT)' 'webapp:create_app()'

# A Chromium for the browser tests: Playwright's own if installed, else Debian's.
chromium:
	@if ls $$HOME/.cache/ms-playwright/chromium-*/chrome-linux*/chrome >/dev/null 2>&1; then \
		echo "Using Playwright's Chromium"; \
	elif [ -x /usr/bin/chromium ]; then \
		echo "Using /usr/bin/chromium"; \
	else \
		echo "Installing Debian's chromium"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; \
	fi

# The linter (ruff, configured in pyproject.toml) runs first: 0 findings or no tests.
lint: install-test
	$(BIN)/ruff check .

test: install-test translations chromium lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

e2e: install-test translations chromium
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# The load generator for the benchmarks, from Debian's packages.
wrk:
	@command -v wrk >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q wrk; }

# The tools media/generate.sh needs to rebuild the recordings and films (Debian's packages).
# Debian's main archive has no MBROLA voices, so the voices are espeak-ng's own.
media-tools:
	@command -v espeak-ng >/dev/null && command -v ffmpeg >/dev/null && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends espeak-ng ffmpeg fonts-dejavu-core; }

# Rebuild every recording and film under media/ from its script (MEDIA="id ..." for some).
media: media-tools
	bash media/generate.sh $(MEDIA)

# The benchmark suite (not part of `make test`): see bench/run.py. BENCH_ARGS="--quick" for a smoke run.
bench: install-test translations wrk
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance/*.sqlite3* .pytest_cache
	find translations -name '*.mo' -delete
