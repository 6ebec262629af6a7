# intake: two commands. `make run` starts the whole service; `make test` passes the tests.
# Both set up a virtual environment first (Python 3.11+ must be on the machine).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint eval bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "intake needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/intake run

test: install
	scripts/ensure-chromium.sh
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

eval: install
	$(BIN)/intake eval screening tests/data/screening_eval.jsonl
	$(BIN)/intake eval extraction tests/data/extraction_eval.jsonl

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
