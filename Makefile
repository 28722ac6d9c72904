# The course's commands. Each target installs what it needs first (into .venv).
#   make book      build the website into _build/html (English; Chinese in _build/html/zh)
#   make test      run every test (what .ci/run calls)
#   make test-fast the units, the authoring checks and chapter 01's grading round trip: an edit loop's tests
#   make chapters  regenerate the student editions in chapters/ from solutions/
#   make book-instructor  the website with solutions and hidden tests, for course staff
#   make bench     training throughput, MFU and attention speed (full on a GPU, quick on a CPU)
#   make experiments  every chapter in full under seeds 0 1 2 and 1 and 2 threads: claims, margins, times
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install book book-instructor chapters test test-fast bench experiments clean

install: $(STAMP)

$(STAMP): requirements.txt requirements.lock pyproject.toml
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap, the sandbox the grader runs submissions in"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "note: install bubblewrap (e.g. sudo apt-get install bubblewrap) to autograde submissions"; fi; }
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium, for the website's browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: install chromium (e.g. sudo apt-get install chromium) for the website's browser test"; fi; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing fonts-noto-cjk, the Chinese fonts of the Chinese site's browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; \
	  else echo "note: install a Chinese font (e.g. sudo apt-get install fonts-noto-cjk) to read the Chinese site"; fi; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock  # requirements.txt, resolved and hashed
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	touch $@

# The site's configuration, _build/_config.site.yml, is _config.yml plus the repository's URL (for the
# repository and launch buttons): $COURSE_REPOSITORY_URL, else the GitHub remote `origin`; $COURSE_BRANCH;
# $COURSE_JUPYTERHUB_URL. `python -m grader website` writes it.
SITE_CONFIG := _build/_config.site.yml

# Two editions: English at the site's root, Chinese (built from _build/zh/, which `python -m grader website`
# writes from locale/'s translations) under _build/html/zh/. The two are built side by side (a core each); the
# Chinese build's log is printed after the English one's.
book: install
	$(PY) -m grader website
	$(VENV)/bin/jupyter-book build _build/zh --warningiserror --keep-going >_build/zh-build.log 2>&1 & zh=$$!; \
	  $(VENV)/bin/jupyter-book build . --config $(SITE_CONFIG) --warningiserror --keep-going; en=$$?; \
	  wait $$zh; zh=$$?; cat _build/zh-build.log; test $$en -eq 0 && test $$zh -eq 0
	rm -rf _build/html/zh && cp -R _build/zh/_build/html _build/html/zh
	@echo "Website: $(CURDIR)/_build/html/index.html (中文版: _build/html/zh/index.html)"

# The instructor edition (solutions folded, hidden tests shown) goes to _build/instructor/html; the
# student pages are written back afterwards, so a later plain build cannot publish solutions.
book-instructor: install
	$(PY) -m grader website --instructor
	$(VENV)/bin/jupyter-book build . --config $(SITE_CONFIG) --path-output _build/instructor --warningiserror --keep-going; \
	  status=$$?; $(PY) -m grader website >/dev/null; exit $$status
	@echo "Instructor edition: $(CURDIR)/_build/instructor/_build/html/index.html"

chapters: install
	$(PY) -m grader chapters

# The tests run on every CPU (pytest-xdist), in the groups tests/conftest.py gives them: PYTEST_WORKERS=1 runs them
# one at a time (a plain `python -m pytest` does too).
PYTEST_WORKERS ?= logical
PYTEST := $(PY) -m pytest --numprocesses $(PYTEST_WORKERS)

test: install
	$(PYTEST)

test-fast: install
	$(PYTEST) -m "not slow"

bench: install
	$(PY) -m benchmarks.speed

experiments: install
	$(PY) -m grader experiments --seeds 0 1 2 --threads 1 2

clean:
	rm -rf _build book/chapters .pytest_cache
