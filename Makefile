# Two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
export PORTAL_BASE_URL ?= http://$(HOST):$(PORT)

PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi

.PHONY: run test install install-test demo clean translations screenshots lighthouse

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Message catalogs: the .po files are kept in git, the .mo files are built from them.
CATALOGS := $(wildcard translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
BABEL_KEYWORDS := -k _l -k lazy_gettext

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(VENV)/bin/pybabel compile -l $* -i $< -o $@

# axe-core and Lighthouse for the browser tests and `make lighthouse` (versions pinned in package-lock.json).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund && touch $@; \
	else echo "npm not found: the browser tests need it for axe-core (apt-get install npm)"; fi

install: $(VENV)/.installed $(COMPILED)
install-test: $(VENV)/.installed-test $(COMPILED) node_modules/.installed

## Extract the messages from the code and templates and merge them into every catalog.
translations: install
	$(VENV)/bin/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --no-wrap -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-wrap --ignore-obsolete
	rm translations/messages.pot
	@echo "Now translate the new (empty or fuzzy) messages, then: make install"

## docs/screenshots/*.png from the real pages in Chromium (phone and desktop).
screenshots: install-test
	$(PY) scripts/screenshots.py

## Lighthouse scores of the overview, recipient form and backoffice order page (gunicorn, Chromium).
lighthouse: install-test
	$(PY) bench/lighthouse.py

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
