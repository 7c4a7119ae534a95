# The two commands: `make run` (install, migrate, seed, serve) and `make test` (install, test).
# `make run` is development mode; anything else that starts the app is production unless APP_ENV says.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install media-tools run test lock bench load alert-tools lint clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# ffmpeg and ffprobe (Debian's `ffmpeg` package): the worker checks and converts self-tapes with them.
media-tools:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg) \
		|| (echo "self-tapes need ffmpeg and ffprobe: install the 'ffmpeg' package" && exit 1)

# promtool (Debian's `prometheus` package): tests/test_alerts.py checks and unit-tests ops/alerts.yml with it.
alert-tools:
	@command -v promtool >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
		|| (echo "the alert tests need promtool: install the 'prometheus' package" && exit 1)

run: install media-tools
	APP_ENV=development $(BIN)/flask up

test: install media-tools alert-tools
	$(BIN)/python tools/lock.py check
	$(BIN)/bandit --quiet --severity-level medium -r casting config.py wsgi.py gunicorn.conf.py tools
	$(BIN)/flake8 casting tests bench tools config.py wsgi.py gunicorn.conf.py migrations
	$(BIN)/python -m pytest -n 2 --dist loadfile -m 'not solo'  # two workers, a file each at a time (tests/conftest.py)
	$(BIN)/python -m pytest -m solo --no-cov  # the tests that time a real worker or scheduler, alone

# requirements.txt (what a Heroku-style deploy installs) from setup.cfg; commit it with setup.cfg.
lock: install
	$(BIN)/python tools/lock.py compile

bench: install media-tools
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| (echo "bench needs wrk: install the 'wrk' package" && exit 1)
	$(BIN)/python -m bench

# The load test of real journeys (bench/load.py, bench/locustfile.py): Locust, headless, on loopback only,
# bounded by LOAD_USERS and LOAD_MINUTES; LOAD_MODE=steps finds the knee, LOAD_MODE=overload checks that a
# crowd with no think time is answered within 2 s (wrk). Run it under `flock /work/bench.lock` on a shared box.
load: install media-tools
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| (echo "load needs wrk: install the 'wrk' package" && exit 1)
	$(BIN)/python -m bench.load

clean:
	rm -rf $(VENV) instance .coverage htmlcov
