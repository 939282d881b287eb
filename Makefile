# The two commands: `make run` (the embedded stack) and `make test` (the whole suite).
# Both set up everything they need on a fresh clone: uv, the virtualenv, Kafka's jars.

UV_VERSION := 0.13.9
TOOLS := .cache/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
ANTT := $(VENV)/bin/antt

.PHONY: run test setup lint unit integration kafka-jars clean

run: setup
	$(ANTT) run

test: setup lint
	$(VENV)/bin/pytest

unit: setup
	$(VENV)/bin/pytest tests/unit

integration: setup
	$(VENV)/bin/pytest tests/integration

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services

setup: $(VENV)/.synced .cache/kafka/pom.sha256

# uv is pinned and kept in its own small virtualenv so nothing global is touched.
$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python python3.11
	touch $@

.cache/kafka/pom.sha256: deploy/kafka/pom.xml $(VENV)/.synced
	$(ANTT) kafka fetch

kafka-jars: .cache/kafka/pom.sha256

clean:
	rm -rf $(VENV) .cache var .pytest_cache .mypy_cache .ruff_cache
