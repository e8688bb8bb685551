# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench venv clean messages catalogs

venv: $(STAMP)

# Translations: gettext catalogs managed with Babel. `make messages` extracts every marked message
# (N_, _, plural) into the template and merges it into each language's .po; `catalogs` compiles them.
LOCALES := handlers/locale
PO := $(wildcard $(LOCALES)/*/LC_MESSAGES/coopbot.po)
MO := $(PO:.po=.mo)
EXTRACT := -F babel.cfg -k N_ -k plural:2,3 -k Count:3,4 -k HalfOrCount:3,4 --no-wrap --sort-by-file --project coopbot

messages: $(STAMP)
	$(BIN)/pybabel extract $(EXTRACT) -o $(LOCALES)/coopbot.pot .
	$(BIN)/pybabel update --no-wrap --ignore-obsolete -D coopbot -i $(LOCALES)/coopbot.pot -d $(LOCALES)

catalogs: $(MO)

$(LOCALES)/%/LC_MESSAGES/coopbot.mo: $(LOCALES)/%/LC_MESSAGES/coopbot.po $(STAMP)
	$(BIN)/pybabel compile -D coopbot -l $* -i $< -o $@

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "coopbot needs Python 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP) catalogs
	$(BIN)/coopbot console

test: $(STAMP) catalogs
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(STAMP) catalogs
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) data .pytest_cache
