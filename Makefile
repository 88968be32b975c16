# `make demo` and `make test` each build .venv from nothing: the CPU build of torch first
# (a bare `torch` requirement would let pip pick a multi-GB CUDA build), then the project.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.eftgan-installed

.PHONY: demo test docs lint bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev,docs,dist,spectral,micro,design,serve,oracle]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/eftgan predict data/examples/*.vasp data/examples/*.cif
	$(VENV)/bin/eftgan explore --elements Fe,Ni,Co,Cr,Mn --out demo-explore --force

test: $(STAMP) docs browser
	$(PY) -m pytest -q -ra

# Chromium and its driver for the browser test of `eftgan serve`, from Debian's packages where
# they are missing (as root, or through sudo without a password). A machine without apt skips
# that test, which says so; a failed install fails here, with apt's last lines.
APT_CHROMIUM = env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	chromium chromium-driver
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "no apt-get: the browser test will skip"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "apt-get needs root (no sudo): the browser test will skip"; exit 0; fi; \
	echo "installing chromium and chromium-driver for the browser test"; \
	$$SUDO $(APT_CHROMIUM) >/tmp/eftgan-apt.log 2>&1 || \
	{ $$SUDO apt-get update -q >>/tmp/eftgan-apt.log 2>&1 && \
	  $$SUDO $(APT_CHROMIUM) >>/tmp/eftgan-apt.log 2>&1; } || \
	{ tail -5 /tmp/eftgan-apt.log; echo "could not install chromium"; exit 1; }

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
