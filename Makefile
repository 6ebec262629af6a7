# intake: two commands. `make run` starts the whole service; `make test` passes the tests.
# Both set up a virtual environment first (Python 3.11+ must be on the machine).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEV    := $(VENV)/.installed-dev-stamp

.PHONY: install install-dev run test lint eval bench bench-scale clean

# The service needs only its runtime dependencies; tests, lint and benchmarks add the dev extras
# (pytest, Playwright, schemathesis...), so `make run` on a fresh machine stays quick.
#
# Packages go in with uv (a well-kept, much faster pip: about 10 s here for what took pip 70 s of
# every clean CI run) when it installs; if it cannot be had, with pip as before.
INSTALL = $(BIN)/python -m pip install --quiet uv >/dev/null 2>&1 \
	&& $(BIN)/python -m uv pip install --python $(BIN)/python --quiet $(1) \
	|| $(BIN)/python -m pip install --quiet $(1)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "intake needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(call INSTALL,-e .)
	touch $(STAMP)

$(DEV): $(STAMP)
	$(call INSTALL,-e '.[dev]')
	touch $(DEV)

install: $(STAMP)

install-dev: $(DEV)

run: install
	$(BIN)/intake run

# Two workers (pytest-xdist), each taking whole files: most of the suite waits on sockets,
# subprocesses and retries rather than the CPU, and one process took about 17 minutes on a busy
# 2-core machine where two took 8. Three were faster (7.5 min) but failed
# test_the_intake_worker_command_processes_the_queue[simple] in 2 of 4 full runs (cause not
# found); two never did in 2. Every test has its own queue prefix, SQLite file and ports, and
# each worker its own PostgreSQL database. `pytest tests/...` runs one process.
TEST_WORKERS ?= 2

test: install-dev
	scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: install-dev
	$(BIN)/ruff check .

# Screening: every labelled set (tests/screening/data/sets.toml says which were tuned on), with
# Wilson 95% intervals, confusion matrices, per-category F1 and language identification;
# extraction and the eligibility card: per-field precision, recall, F1 and support.
eval: install-dev
	$(BIN)/python -m intake.screening.cli tests/screening/data/sets.toml
	$(BIN)/intake eval extraction tests/data/extraction_eval.jsonl
	$(BIN)/intake eval language tests/data/language_dev.jsonl
	$(BIN)/intake eval eligibility tests/data/eligibility_dev.jsonl

# `make bench`: under ten minutes on a 2-core machine; `make bench-scale`: the long runs (the
# 1,000,000-referral store, memory after 10,000 referrals, CPU per email against django-helpdesk,
# which bench/peer.py installs into bench/.peer-venv, never into intake's own). Both write
# bench/results/*.json and regenerate the README's performance table from them (bench/report.py).
bench: install-dev
	$(BIN)/python bench/run.py
	$(BIN)/python bench/report.py

bench-scale: install-dev
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/peer.py
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
