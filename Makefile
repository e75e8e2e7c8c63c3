# The two commands: `make demo` runs egs/mini end to end, `make test` runs the test suite.
# Both set up what is missing first (tools/setup.sh, idempotent).
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup demo test
setup:
	@bash tools/setup.sh

demo: setup
	cd egs/mini && ./run.sh

test: setup
	$(PY) -m pytest -n 2 --dist loadfile -q tests
