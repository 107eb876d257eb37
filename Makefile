# lawline: `make demo` runs the box end to end on the loopback line; `make test` runs the tests.
# Both install what they need first (Debian packages when missing, then a virtualenv).

VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= simcom-sim7600
PROMPTS := prompts/zh-CN

.PHONY: all deps test-deps prompts demo test unit scenarios bench clean

all: prompts

$(VENV)/.deps: pyproject.toml tools/bootstrap.sh
	tools/bootstrap.sh $(VENV) test
	touch $@

deps: $(VENV)/.deps

# Render prompt audio that is missing (a recorded NAME.wav always wins).
prompts: deps
	$(PY) -m lawline prompts $(PROMPTS)

demo: prompts
	$(PY) -m lawline demo --profile $(PROFILE)

test: prompts
	$(PY) -m pytest -q tests

unit: deps
	$(PY) -m pytest -q tests/unit

scenarios: prompts
	$(PY) -m pytest -q tests/scenarios

bench: prompts
	$(PY) -m lawline.bench

clean:
	rm -rf $(VENV) $(PROMPTS)/generated .pytest_cache
