# Parafetch: set up, run and test from a checkout. GNU make and POSIX sh; Debian is the reference system.
# Every target sets up what is missing first (virtualenv, Python packages, Debian libraries for Qt) and is
# idempotent: a second run installs nothing.

SHELL := /bin/sh
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp
PIP    := $(PY) -m pip --disable-pip-version-check
ARGS ?=
PYTEST_ARGS ?=

# Debian packages that `import PySide6.QtWidgets` and an offscreen QApplication need (the tests).
QT_DEBS := libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0
# ...and what Qt's xcb platform plugin needs to open a real window (the app).
QT_WINDOW_DEBS := libx11-xcb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
  libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 \
  libxcb-xfixes0 libxcb-xkb1

DESKTOP_DIR := $${XDG_DATA_HOME:-$$HOME/.local/share}/applications

.PHONY: help run test lint check-deps benchmark screenshots install-desktop uninstall-desktop clean distclean venv \
  sysdeps-test sysdeps-run

help:
	@echo "make run              set up what is missing, then open Parafetch (ARGS='...' are passed to main.py)"
	@echo "make test             set up what is missing, then ruff, mypy and pytest (PYTEST_ARGS='...')"
	@echo "make lint             ruff, mypy, the import-linter contracts, and requirements*.txt = pyproject.toml"
	@echo "make benchmark        Parafetch vs curl, aria2c and a bare requests loop (ARGS='--quick' for a short run)"
	@echo "make screenshots      render docs/screenshot-*.png (the window mid-run, and the Compare view)"
	@echo "make install-desktop  add Parafetch to this user's application menu"
	@echo "make clean            remove caches and build output; 'make distclean' also removes $(VENV)/"

# $(call ensure_debs,PACKAGES,PURPOSE): install the missing Debian PACKAGES when root, else say what to install.
# Does nothing where there is no dpkg (other distributions, macOS).
define ensure_debs
missing=; \
if command -v dpkg-query >/dev/null 2>&1; then \
  for p in $(1); do \
    dpkg-query -W -f='$${db:Status-Status}\n' "$$p" 2>/dev/null | grep -qx installed || missing="$$missing $$p"; \
  done; \
fi; \
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    echo "Installing Debian packages for $(2):$$missing"; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
  else \
    echo "Note: Debian packages for $(2) are missing; install them with:" >&2; \
    echo "  sudo apt-get install$$missing" >&2; \
  fi; \
fi
endef

sysdeps-test:
	@$(call ensure_debs,$(QT_DEBS),the tests (Qt))

sysdeps-run:
	@$(call ensure_debs,$(QT_DEBS) $(QT_WINDOW_DEBS),the Parafetch window (Qt))

# The virtualenv, made when there is none or its interpreter is gone. Debian's python3 needs python3-venv for
# `-m venv`: installed when root and missing.
define make_venv
command -v $(PYTHON) >/dev/null 2>&1 || { \
  echo "$(PYTHON) not found: install Python 3.11 or newer (Debian: sudo apt-get install python3)" >&2; exit 1; }; \
$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
  echo "Parafetch needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1)." >&2; \
  echo "Name a newer one with: make PYTHON=python3.12 ..." >&2; exit 1; }; \
rm -rf $(VENV); \
log=$$(mktemp); \
if ! $(PYTHON) -m venv $(VENV) >"$$log" 2>&1; then \
  rm -rf $(VENV); \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    ver=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
    echo "$(PYTHON) -m venv failed; installing Debian's venv support"; \
    apt-get update -qq; \
    pkgs=python3-venv; \
    if apt-cache show "python$$ver-venv" >/dev/null 2>&1; then pkgs="$$pkgs python$$ver-venv"; fi; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$pkgs \
      && $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV) "$$log"; exit 1; }; \
  else \
    cat "$$log" >&2; rm -f "$$log"; \
    echo "Could not create $(VENV)/. On Debian: sudo apt-get install python3-venv" >&2; exit 1; \
  fi; \
fi; \
rm -f "$$log"; \
echo "Created $(VENV)/ with $$($(PY) -V)"
endef

# A venv whose interpreter is missing or a dangling link is remade, and its packages installed again.
ifneq ($(shell test -e $(PY) && echo ok),ok)
$(STAMP): .remake-venv
endif
.PHONY: .remake-venv
.remake-venv:

# Python packages, installed once; again only when a dependency list changes or the venv is remade.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@if ! { test -e $(PY) && $(PY) -c '' 2>/dev/null; }; then $(make_venv); fi
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --progress-bar off -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

run: $(STAMP) sysdeps-run
	$(PY) main.py $(ARGS)

# requirements*.txt (what make and Windows users install) must list what pyproject.toml declares.
define CHECK_DEPS_PY
import re, sys, tomllib

def norm(items):
    return {re.sub(r"\s+", "", i).lower() for i in items}

def read(path):
    with open(path, encoding="utf-8") as f:
        lines = [line.split("#", 1)[0].strip() for line in f]
    return norm(line for line in lines if line and not line.startswith("-"))

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
bad = False
for path, declared in (("requirements.txt", project["dependencies"]),
                       ("requirements-dev.txt", project["optional-dependencies"]["dev"])):
    listed, wanted = read(path), norm(declared)
    if listed != wanted:
        bad = True
        print(f"{path} does not match pyproject.toml: only in {path}: {sorted(listed - wanted)}; "
              f"only in pyproject.toml: {sorted(wanted - listed)}", file=sys.stderr)
sys.exit(1 if bad else 0)
endef
export CHECK_DEPS_PY

check-deps: $(STAMP)
	@$(PY) -c "$$CHECK_DEPS_PY"

lint: check-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	PYTHONPATH=. $(VENV)/bin/lint-imports

test: sysdeps-test lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

benchmark: $(STAMP)
	@$(call ensure_debs,nginx-light curl aria2,the benchmarks)
	$(PY) -m benchmarks.downloads $(ARGS)

screenshots: $(STAMP) sysdeps-test
	$(PY) -m tests.support.screenshots docs/screenshot-thread-pool.png --mode thread-pool --workers 8
	$(PY) -m tests.support.screenshots docs/screenshot-process-pool.png --mode process-pool --workers 4
	$(PY) -m tests.support.compare_screenshot docs/screenshot-compare.png

install-desktop: $(STAMP)
	@dir="$(DESKTOP_DIR)"; \
	esc() { printf '%s' "$$1" | sed -e 's/[\\|&]/\\&/g'; }; \
	exec_line=$$(esc '"$(CURDIR)/$(PY)" "$(CURDIR)/main.py"'); \
	icon=$$(esc '$(CURDIR)/resources/parafetch.png'); \
	mkdir -p "$$dir" && \
	sed -e "s|@EXEC@|$$exec_line|" -e "s|@ICON@|$$icon|" resources/parafetch.desktop > "$$dir/parafetch.desktop" && \
	chmod 644 "$$dir/parafetch.desktop" && \
	{ command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$$dir" || true; } && \
	echo "Installed $$dir/parafetch.desktop"

uninstall-desktop:
	rm -f "$(DESKTOP_DIR)/parafetch.desktop"

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info benchmarks/out
	find . \( -path ./$(VENV) -o -path ./.git \) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
