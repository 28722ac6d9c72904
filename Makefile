# The course's commands. Each target installs what it needs first (into .venv).
#   make book      build the website into _build/html
#   make test      run every test (what .ci/run calls)
#   make chapters  regenerate the student editions in chapters/ from solutions/
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install book chapters test clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap, the sandbox the grader runs submissions in"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "note: install bubblewrap (e.g. sudo apt-get install bubblewrap) to autograde submissions"; fi; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	touch $@

book: install
	$(PY) -m grader website
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going
	@echo "Website: $(CURDIR)/_build/html/index.html"

chapters: install
	$(PY) -m grader chapters

test: install
	$(PY) -m pytest

clean:
	rm -rf _build book/chapters .pytest_cache
