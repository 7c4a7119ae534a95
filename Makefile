# The two commands: `make run` (install, migrate, seed, serve) and `make test` (install, test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test bench lint clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/flask up

test: install
	$(BIN)/bandit --quiet --severity-level medium -r casting config.py wsgi.py gunicorn.conf.py
	$(BIN)/flake8 casting tests bench config.py wsgi.py gunicorn.conf.py migrations
	$(BIN)/python -m pytest

bench: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| (echo "bench needs wrk: install the 'wrk' package" && exit 1)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .coverage htmlcov
