# The two commands: `make run` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app portal
export FLASK_APP := portal
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one per core; `make test TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= auto
# The demo's language for browsers that state none and for the words the demo stores, such as a notice's
# "how to object" (`make run DEFAULT_LANGUAGE=en` for English).
DEFAULT_LANGUAGE ?= zh

.PHONY: run test lint install vendor translations db clean migration extract wheel

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

static/vendor/htmx.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

vendor: static/vendor/htmx.min.js

translations: install
	$(PY) -m babel.messages.frontend compile -d portal/translations --statistics

db: install translations
	$(FLASK) db upgrade
	DEFAULT_LANGUAGE=$(DEFAULT_LANGUAGE) $(FLASK) seed-demo --if-empty

run: install vendor db
	DEFAULT_LANGUAGE=$(DEFAULT_LANGUAGE) $(FLASK) run --host 127.0.0.1 --port 5000

# The whole suite. TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test runs it on PostgreSQL.
test: install vendor translations
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Ruff over the whole repository, with the rules in pyproject.toml ([tool.ruff]); CI runs it before the tests.
lint: install
	$(VENV)/bin/ruff check .

# The wheel for deploying (README, Deploy): templates, static files with htmx, catalogues and migrations inside.
wheel: install vendor translations
	rm -rf build dist
	$(PY) -m pip wheel --no-deps -q -w dist .

clean:
	rm -rf $(VENV) node_modules static/vendor instance build dist

# A new Alembic revision from the models: make migration m="what changed"
migration: install
	$(FLASK) db migrate -m "$(m)"

# Pull new strings into the Chinese catalogue (then translate them).
extract: install
	$(PY) -m babel.messages.frontend extract -F babel.cfg -k _l -k lazy_gettext -k pgettext:1c,2 -k lazy_pgettext:1c,2 -o portal/translations/messages.pot --no-location --omit-header -w 120 .
	$(PY) -m babel.messages.frontend update -i portal/translations/messages.pot -d portal/translations -l zh --no-fuzzy-matching -w 120
