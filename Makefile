# The two commands: `make run` (the embedded stack) and `make test` (the whole suite).
# Both set up everything they need on a fresh clone: uv, the virtualenv, Kafka's jars,
# Keycloak's distribution.

UV_VERSION := 0.13.9
TOOLS := .cache/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
ANTT := $(VENV)/bin/antt

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup postgres prometheus kcat chromium lint unit integration bench profile kafka-jars keycloak-dist clean

run: setup
	$(ANTT) run

test: setup postgres prometheus kcat chromium lint
	$(VENV)/bin/pytest

# The fast tier: the unit tests on SQLite and the in-memory broker, offline, with no
# PostgreSQL and no Kafka (their PostgreSQL half, marked `postgresql`, runs in `make test`).
unit: $(VENV)/.synced
	$(VENV)/bin/pytest tests/unit -m "not postgresql" -n 2

integration: setup postgres prometheus kcat chromium
	$(VENV)/bin/pytest tests/integration

# Not part of `make test`: each path against a bare baseline in the same run; no timings asserted.
# Each part starts its own Kafka (and PostgreSQL) and stops it; all write benchmarks/results/latest.md.
bench: setup postgres
	$(VENV)/bin/python -m benchmarks.consumer
	$(VENV)/bin/python -m benchmarks.member_import
	$(VENV)/bin/python -m benchmarks.relay
	$(VENV)/bin/python -m benchmarks.http_intake
	$(VENV)/bin/python -m benchmarks.latency
	$(VENV)/bin/python -m benchmarks.reporting_statistics

# Not part of `make test`: where the CPU goes on the paths whose targets `make bench` does not
# meet. py-spy samples each service under one round of its part's load (the figures of a
# profiled run are printed, not written); var/profile/summary.md has the tables. About 6 minutes.
profile: setup postgres
	rm -rf var/profile
	$(VENV)/bin/python -m benchmarks.consumer --rounds 1 --events 20000 --no-scale-out --rebuild-events 0 --profile var/profile/consumer
	$(VENV)/bin/python -m benchmarks.http_intake --rounds 1 --requests 4000 --profile var/profile/http_intake
	$(VENV)/bin/python -m benchmarks.latency --rounds 1 --incidents 200 --profile var/profile/latency
	$(VENV)/bin/python -m benchmarks.profile var/profile

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services benchmarks

setup: $(VENV)/.synced .cache/kafka/pom.sha256 .cache/keycloak/pom.sha256

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

# Keycloak's distribution, and a check that a Java 21+ JDK is there to run it (antt looks
# under /usr/lib/jvm, or takes ANTT_KEYCLOAK_JAVA_HOME): Java 17 runs Kafka, not Keycloak.
.cache/keycloak/pom.sha256: deploy/keycloak/pom.xml deploy/keycloak/antt-realm.json deploy/keycloak/antt-users-0.json $(VENV)/.synced
	$(ANTT) keycloak fetch

keycloak-dist: .cache/keycloak/pom.sha256

# The tests start their own throwaway PostgreSQL cluster from Debian's packages.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "Installing PostgreSQL from Debian's packages…"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

# promtool (Debian's prometheus package) checks deploy/prometheus and runs its rule tests.
prometheus:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "Installing Prometheus (promtool) from Debian's packages…"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq prometheus >/dev/null; }

# kcat (Debian's package) reads the topics in the integration tests as a consumer that is
# not Python would: it proves the events need none of this project's code.
kcat:
	@command -v kcat >/dev/null 2>&1 || { \
	  echo "Installing kcat from Debian's packages…"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq kcat >/dev/null; }

# Debian's chromium runs the console's end-to-end test (Playwright drives it through
# executable_path; Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium from Debian's packages…"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) .cache var .pytest_cache .mypy_cache .ruff_cache
