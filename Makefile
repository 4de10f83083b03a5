# zikao — the two set-up commands are `make run` and `make test`; both need only Python 3.11+ and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
DEMO_CANDIDATES ?= 2000

.PHONY: run test test-sqlite test-postgres lint bench install clean argon2-native

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,prod]"
	touch $@

install: $(VENV)/.installed

## make run: embedded demo (SQLite, no services) on http://$(HOST):$(PORT)
run: install
	@unset DATABASE_URL REDIS_URL CELERY_BROKER_URL; \
	$(PY) manage.py migrate --noinput && \
	$(PY) manage.py demo --candidates $(DEMO_CANDIDATES) && \
	echo "Serving http://$(HOST):$(PORT)/  (Ctrl-C to stop)" && \
	exec $(PY) manage.py runserver --noreload $(HOST):$(PORT)

## make test: the suite on SQLite, and on PostgreSQL as well when DATABASE_URL is set
test: install
	env -u DATABASE_URL $(PY) -m pytest -p no:cacheprovider -q
	@if [ -n "$$DATABASE_URL" ]; then \
		echo "--- again on PostgreSQL ($${DATABASE_URL%%@*}@…)"; \
		$(PY) -m pytest -p no:cacheprovider -q; \
	fi

## make argon2-native: production web servers only. Rebuilds Argon2 from source for AVX2 CPUs
## (x86-64-v3: Intel Haswell / AMD Excavator and newer): same hashes and parameters, about 1.6x
## faster to verify than PyPI's portable wheel, so more logins per core (docs/decisions/0012).
ARGON2_MARCH ?= x86-64-v3
argon2-native: install
	ARGON2_CFFI_USE_SSE2=1 CFLAGS="-O3 -march=$(ARGON2_MARCH)" $(PY) -m pip install --quiet \
		--force-reinstall --no-deps --no-binary argon2-cffi-bindings \
		"argon2-cffi-bindings==$$($(PY) -c 'from importlib.metadata import version; print(version("argon2-cffi-bindings"))')"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src/zikao/core src/zikao/catalog src/zikao/candidates src/zikao/scores \
		src/zikao/conduct src/zikao/credits src/zikao/graduation src/zikao/entries src/zikao/accounts

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var/*.sqlite3*
