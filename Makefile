# Toucan stack — everything a person does often.
#   make run    the embedded stack at http://127.0.0.1:8000 (SQLite, nothing else to install)
#   make test   lint, type-check and the whole suite (SQLite, then PostgreSQL when reachable)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml VERSION | cksum | cut -d' ' -f1)
UV_VERSION := 0.13.9
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
FRONTEND_SOURCES := $(shell find frontend -path frontend/node_modules -prune -o -path frontend/dist -prune -o -type f -print 2>/dev/null)

.PHONY: install bubblewrap screenshot-browser run frontend test lint typecheck test-sqlite test-postgres test-frontend test-deploy docs bench bench-etl bench-sandbox bench-inputs bench-redundancy bench-backup bench-screenshots clean bench-frontend

$(STAMP): requirements.lock pyproject.toml VERSION
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# Builder code (augment.py) runs in a bubblewrap sandbox (docs/security.md). Installed here when
# missing, as root or with sudo; without either `make run` goes on and says what to install
# (until then builder code does not run; everything else does).
SANDBOX_PACKAGES := bubblewrap libseccomp2
bubblewrap:
	@if ! command -v bwrap >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then as_root=""; elif sudo -n true 2>/dev/null; then as_root="sudo"; else as_root=none; fi; \
		if [ "$$as_root" != none ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing $(SANDBOX_PACKAGES) (the builder code sandbox)"; \
			$$as_root apt-get install -y -qq $(SANDBOX_PACKAGES) >/dev/null 2>&1 \
			|| { $$as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$as_root apt-get install -y -qq $(SANDBOX_PACKAGES) >/dev/null; }; \
		fi; \
	fi; \
	if ! command -v bwrap >/dev/null 2>&1; then \
		echo "bubblewrap is not installed, so builder code (augment.py) will not run. Install it:"; \
		echo "    sudo apt-get install $(SANDBOX_PACKAGES)    (Debian, Ubuntu; elsewhere the bubblewrap package)"; \
		echo "then check the host with: $(BIN)/toucan-ctl doctor sandbox   (see docs/security.md)"; \
	fi

# Screenshots and PDF exports (docs/screenshots.md): Chromium's headless shell and the fonts
# stories are drawn with, installed like bubblewrap above when root or sudo allows.
SCREENSHOT_PACKAGES := chromium-headless-shell fonts-liberation fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji
screenshot-browser:
	@if ! command -v chromium-headless-shell >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then \
		if [ "$$(id -u)" = 0 ]; then as_root=""; elif sudo -n true 2>/dev/null; then as_root="sudo"; else as_root=none; fi; \
		if [ "$$as_root" != none ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing $(SCREENSHOT_PACKAGES) (screenshots and PDF exports)"; \
			$$as_root apt-get install -y -qq $(SCREENSHOT_PACKAGES) >/dev/null 2>&1 \
			|| { $$as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$as_root apt-get install -y -qq $(SCREENSHOT_PACKAGES) >/dev/null; }; \
		else \
			echo "screenshots need: sudo apt-get install $(SCREENSHOT_PACKAGES)   (check with $(BIN)/toucan-ctl doctor screenshot)"; \
		fi; \
	fi

# The built frontend (served at / by the embedded stack); rebuilt when its sources change.
frontend/dist/index.html: $(FRONTEND_SOURCES) VERSION
	@if [ -f frontend/package.json ]; then \
		cd frontend && npm ci --no-audit --no-fund && npm run build; \
	else echo "no frontend/ yet: the API alone is served"; fi

frontend: frontend/dist/index.html

run: install frontend bubblewrap screenshot-browser
	$(BIN)/toucan-ctl serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python -m toucan.reference_docs --check
	$(BIN)/python -m toucan.data.pipeline.reference --check

typecheck: install
	$(BIN)/mypy

test-sqlite: install frontend bubblewrap
	$(BIN)/pytest -q

test-postgres: install frontend bubblewrap
	TOUCAN_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "not browser and not deploy and not own_stacks"

test-frontend:
	@if [ -f frontend/package.json ]; then \
		cd frontend && npm ci --no-audit --no-fund && npm run typecheck && npm run test:unit; fi

# The SQLite and PostgreSQL passes run side by side (they use their own databases, Redis
# databases and free ports); each pass's output is printed whole when it ends.
test: lint typecheck test-frontend
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

# The images (deploy/Dockerfile.*) built with podman on a debootstrap base, then run as the
# compose topology and driven through the frontend (tests/deploy; as root, needs podman and
# debootstrap: .ci/run installs them). About 5 min on a fresh machine; the base tarball
# (TOUCAN_DEPLOY_CACHE) and podman's layers are reused, so under 2 min after that.
test-deploy: install
	deploy/podman/build.sh
	$(BIN)/pytest -q -m deploy tests/deploy

docs: install
	$(BIN)/python -m toucan.reference_docs
	$(BIN)/python -m toucan.data.pipeline.reference

bench: install
	$(BIN)/python bench/startup.py

# A 1 GB CSV and a 1 M-row PostgreSQL table (127.0.0.1:5432, db test) into domains; a few minutes.
bench-etl: install
	$(BIN)/python bench/etl/run.py

# The builder code sandbox: start overhead and a 1 M-row DataFrame, sandboxed vs a plain child process.
bench-sandbox: install bubblewrap
	$(BIN)/python bench/sandbox/run.py

# Bounded inputs: CSON parsing and Excel reading, old vs new (the old CSON parser on 200k keys takes minutes).
bench-inputs: install
	$(BIN)/python bench/inputs/run.py

bench-redundancy: install
	$(BIN)/python bench/redundancy/run.py

bench-backup: install
	$(BIN)/python bench/backup/run.py

# The web app in Chromium: route sizes (the chart builder kept out of viewers' routes), the
# chart builder's preview redraw and story readiness on the demo's 100 k rows; a few minutes.
bench-frontend: install frontend
	$(BIN)/python bench/frontend/run.py --rows 100000 --runs 15

# Screenshots: time after ready, captures/s with the cap, warm-browser memory, fixed-sleep baseline.
bench-screenshots: install frontend screenshot-browser
	$(BIN)/python bench/screenshots/run.py

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist .mypy_cache .ruff_cache .pytest_cache
