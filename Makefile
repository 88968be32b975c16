# `make demo` and `make test` each build .venv from nothing: the CPU build of torch first
# (a bare `torch` requirement would let pip pick a multi-GB CUDA build), then the project.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.eftgan-installed

.PHONY: demo test docs lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev,docs,dist,spectral,micro,design]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/eftgan predict data/examples/*.vasp data/examples/*.cif
	$(VENV)/bin/eftgan explore --elements Fe,Ni,Co,Cr,Mn --out demo-explore --force

test: $(STAMP) docs
	$(PY) -m pytest -q -ra

# The documentation site (MkDocs + mkdocstrings), strict: a broken link, reference or docstring
# cross-reference fails the build. Written to build/site/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/ecnet_accuracy.py

clean:
	rm -rf $(VENV) build *.egg-info
