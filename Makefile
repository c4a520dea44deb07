# Two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
export PORTAL_BASE_URL ?= http://$(HOST):$(PORT)

PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi

.PHONY: run test install install-test demo clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## Start the portal on SQLite with demo data; mail is kept in instance/mail (or sent via MAIL_SERVER).
run: install
	$(FLASK) db upgrade
	$(FLASK) demo
	@echo "Portal on $(PORTAL_BASE_URL)  (Ctrl-C stops the server and the mail worker)"
	@$(FLASK) outbox worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

## Another demo order on the running database (prints its links).
demo: install
	$(FLASK) db upgrade
	$(FLASK) demo

## The whole test suite.
test: install-test
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
