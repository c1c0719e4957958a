# Set-up is idempotent: .venv is created if missing, and the package is
# (re)installed only when pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fairvision-installed
# Every install goes through the constraints file (torch / torchvision pins).
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo demo-full test bench clean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PY) -m pip install -q -c constraints.txt -e '.[test,search,stats,prune]'
	touch $(STAMP)

# the quick demo (< 3 min on 2 cores); `make demo-full` runs the full one (about 12 min); both resume
demo: install
	$(VENV)/bin/fairvision demo --quick --out runs/demo-quick

demo-full: install
	$(VENV)/bin/fairvision demo --out runs/demo

test: install
	$(PY) -m pytest -n 2 -q

bench: install
	$(PY) benchmarks/bench_ranks.py

clean:
	rm -rf runs build *.egg-info src/*.egg-info
