# The two commands: `make demo` (the main job) and `make test` (the whole suite). Both set up what
# they need on a fresh machine and do nothing twice: wheels, the Ollama build and the models are
# cached under ~/.cache.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OLLAMA_DEV := $(PY) scripts/ollama_dev.py
TEST_MODELS := --model qwen2.5-coder:0.5b --model qwen2.5-coder:1.5b
DEMO_MODEL := qwen2.5-coder:1.5b

.PHONY: setup ollama lint pytest test demo clean

setup:
	@$(PYTHON) scripts/bootstrap.py

ollama: setup
	@$(OLLAMA_DEV) binary >/dev/null

lint: setup
	$(PY) -m ruff check smallagent tests scripts bench
	$(PY) -m ruff format --check smallagent tests scripts bench
	$(PY) -m mypy

# The integration tests use the server that `ollama_dev.py run` starts; without one they start
# their own. Either way they fail, never skip, when no server can be brought up.
test: lint ollama
	$(OLLAMA_DEV) run $(TEST_MODELS) -- $(PY) -m pytest $(PYTEST_ARGS)

demo: ollama
	$(OLLAMA_DEV) run --model $(DEMO_MODEL) -- env SMALLAGENT_MODEL=$(DEMO_MODEL) \
		VENV=$(VENV) sh scripts/demo.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
