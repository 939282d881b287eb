"""docker-compose.yml against the Compose Specification, and against the services' code.

There is no Docker engine here, so ``docker compose config`` cannot check the file. Instead:

* the file, after variable interpolation, is validated with ``jsonschema`` against the
  Compose Specification's JSON schema. The schema is not copied into the repository: it
  is read from the installed ``check-jsonschema`` package (which vendors the upstream
  compose-spec schema for its ``check-compose-spec`` hook), a dev dependency pinned in
  ``pyproject.toml`` and ``uv.lock``, and checked by sha256; nothing is downloaded;
* ports, ``ANTT_*`` settings, health checks and dependencies are compared with the
  services' ``Settings`` classes and their routes; the Prometheus scrape targets and the
  Grafana provisioning and dashboard are compared with the compose file and the metrics
  the services register.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml
from cryptography.fernet import Fernet
from starlette.routing import Match

from services.awards import app as awards_app
from services.console import app as console_app
from services.registry import app as registry_app
from services.reporting import app as reporting_app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DATASOURCES_DIR = GRAFANA_DIR / "provisioning" / "datasources"
DASHBOARD_PROVIDERS_DIR = GRAFANA_DIR / "provisioning" / "dashboards"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
GRAFANA_DATASOURCE_UID = "antt-prometheus"  # what the dashboards' panels name

# Where the Compose Specification's schema comes from: a file in the installed
# check-jsonschema (0.39.0, pinned in pyproject.toml's dev group and in uv.lock).
SCHEMA_PACKAGE = "check_jsonschema.builtin_schemas.vendor"
SCHEMA_RESOURCE = "compose-spec.json"
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"

SERVICE_MODULES = {"registry": registry_app, "reporting": reporting_app, "awards": awards_app}
INFRASTRUCTURE = ("kafka-1", "kafka-2", "kafka-3", "postgres", "keycloak")

# Values for the variables the compose file requires (`${VAR:?msg}`) and nothing else: the
# file's own defaults (`${VAR:-default}`) apply to the rest.
TEST_ENVIRONMENT = {
    "ANTT_KEYCLOAK_ADMIN_PASSWORD": "compose-test-keycloak-admin",
    "ANTT_SERVICE_CLIENT_SECRET": "compose-test-service-secret",
    "ANTT_CONSOLE_CLIENT_SECRET": "compose-test-console-secret",
    "ANTT_INFORMANT_KEYS": json.dumps([Fernet.generate_key().decode()]),
    "ANTT_GRAFANA_PASSWORD": "compose-test-password",
    "ANTT_POSTGRES_PASSWORD": "compose-test-database-password",
}
# No default password for the database: the README lists these four as required.
REQUIRED_VARIABLES = {
    "ANTT_KEYCLOAK_ADMIN_PASSWORD",
    "ANTT_SERVICE_CLIENT_SECRET",
    "ANTT_CONSOLE_CLIENT_SECRET",
    "ANTT_INFORMANT_KEYS",
    "ANTT_GRAFANA_PASSWORD",
    "ANTT_POSTGRES_PASSWORD",
}


# --- the schema, from the installed check-jsonschema -----------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    """The Compose Specification's schema, as the pinned check-jsonschema vendors it."""
    data = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_RESOURCE).read_bytes()
    assert _sha256(data) == SCHEMA_SHA256, f"{SCHEMA_PACKAGE}/{SCHEMA_RESOURCE} changed"
    schema: dict[str, Any] = json.loads(data)
    return schema


# --- the compose file, interpolated ----------------------------------------------------

_VARIABLE = re.compile(
    r"""\$(?:
        (?P<escaped>\$)
      | (?P<named>[_a-zA-Z][_a-zA-Z0-9]*)
      | \{(?P<braced>[_a-zA-Z][_a-zA-Z0-9]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}
      | (?P<invalid>)
    )""",
    re.VERBOSE,
)


class MissingVariables(Exception):
    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in sorted(messages.items())))
        self.messages = messages


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """Compose's interpolation of every string value: ``$$``, ``$VAR``, ``${VAR}`` and the
    ``-``, ``:-``, ``?``, ``:?``, ``+``, ``:+`` forms; every unset required variable is
    reported at once in a ``MissingVariables`` error."""
    missing: dict[str, str] = {}

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["invalid"] is not None:
            raise ValueError(f"invalid interpolation in {match.string!r}")
        name = match["named"] or match["braced"]
        op, arg = match["op"] or "", match["arg"] or ""
        value = env.get(name)
        # With a colon, an empty value counts as unset.
        present = value is not None and (value != "" or not op.startswith(":"))
        if op.endswith("-"):
            return value if present and value is not None else arg
        if op.endswith("?"):
            if not present or value is None:
                missing[name] = arg
                return ""
            return value
        if op.endswith("+"):
            return arg if present else ""
        return value or ""

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _VARIABLE.sub(substitute, item)
        if isinstance(item, dict):
            return {key: walk(value) for key, value in item.items()}
        if isinstance(item, list):
            return [walk(value) for value in item]
        return item

    result = walk(node)
    if missing:
        raise MissingVariables(missing)
    return result


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = interpolate(raw_compose, TEST_ENVIRONMENT)
    return document


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment`` (map or ``KEY=VALUE`` list) as strings."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (entry.split("=", 1) if "=" in entry else (entry, "") for entry in environment)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def published_ports(service: Mapping[str, Any]) -> set[tuple[int | None, int]]:
    """(host port, container port) pairs of a service's ``ports``, either syntax; a host
    range (``8003-8005:8003``, one port per replica) counts as its first port."""
    pairs: set[tuple[int | None, int]] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published = str(entry.get("published") or "").split("-", 1)[0]
            pairs.add((int(published) if published else None, int(entry["target"])))
            continue
        parts = str(entry).split("/", 1)[0].rsplit(":", 2)
        host = parts[-2].split("-", 1)[0] if len(parts) > 1 else None
        pairs.add((int(host) if host else None, int(parts[-1])))
    return pairs


def bind_mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts (relative host paths)."""
    mounts: dict[str, str] = {}
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            if entry.get("type") == "bind":
                mounts[entry["target"]] = entry["source"]
            continue
        source, target = str(entry).split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def healthcheck_urls(service: Mapping[str, Any]) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test") or []
    text = test if isinstance(test, str) else " ".join(test)
    return re.findall(r"https?://[^\s'\"]+", text)


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    """Dependency -> condition (the short list form means ``service_started``)."""
    dependencies = service.get("depends_on") or {}
    if isinstance(dependencies, list):
        return {name: "service_started" for name in dependencies}
    return {name: spec.get("condition", "service_started") for name, spec in dependencies.items()}


def default_port(name: str) -> int:
    port = SERVICE_MODULES[name].Settings.model_fields["port"].default
    assert isinstance(port, int)
    return port


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each service's app, built as in production but not started (nothing is connected)."""
    directory = tmp_path_factory.mktemp("compose-apps")
    built = {}
    for name, module in SERVICE_MODULES.items():
        settings = module.Settings(
            env="dev", database_url=f"sqlite+aiosqlite:///{directory / name}.db"
        )
        built[name] = module.create_app(settings)
    return built


# --- the Compose Specification ---------------------------------------------------------


def schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    ]


def test_compose_file_matches_the_compose_specification(
    compose_schema: dict[str, Any], compose: dict[str, Any]
) -> None:
    assert schema_errors(compose_schema, compose) == []


def test_the_schema_rejects_what_compose_would_reject(
    compose_schema: dict[str, Any], compose: dict[str, Any]
) -> None:
    """Guards against a permissive schema: a misspelt key and a wrong type are errors."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["registry"]["healtcheck"] = broken["services"]["registry"]["healthcheck"]
    broken["services"]["kafka-1"]["depends_on"] = {"postgres": {"condition": "healthy"}}
    errors = schema_errors(compose_schema, broken)
    assert any("services/registry" in error for error in errors), errors
    assert any("services/kafka-1" in error for error in errors), errors


def test_required_variables_are_enforced(raw_compose: dict[str, Any]) -> None:
    with pytest.raises(MissingVariables) as missing:
        interpolate(raw_compose, {})
    assert set(missing.value.messages) == REQUIRED_VARIABLES
    assert all(missing.value.messages.values()), "each required variable explains itself"


def test_the_readme_names_exactly_the_required_variables() -> None:
    readme = (ROOT / "README.md").read_text()
    sentence = readme[readme.index("Required variables") :].split(".", 1)[0]
    assert set(re.findall(r"`(ANTT_[A-Z_]+)`", sentence)) == REQUIRED_VARIABLES


def test_every_service_restarts_unless_stopped(compose: dict[str, Any]) -> None:
    policies = {name: service.get("restart") for name, service in compose["services"].items()}
    assert policies == dict.fromkeys(compose["services"], "unless-stopped")


def test_bind_mounted_host_paths_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for target, source in bind_mounts(service).items():
            assert (ROOT / source).exists(), f"{name}: {source} (mounted at {target}) is missing"


# --- the compose file against the services' code ---------------------------------------


@pytest.mark.parametrize("name", SERVICE_MODULES)
def test_service_port_matches_its_settings(name: str, compose: dict[str, Any]) -> None:
    service = compose["services"][name]
    port = default_port(name)
    assert environment_of(service).get("ANTT_PORT") == str(port)
    assert (port, port) in published_ports(service), f"{name} does not publish {port}:{port}"


@pytest.mark.parametrize("name", SERVICE_MODULES)
def test_service_environment_names_only_known_settings(name: str, compose: dict[str, Any]) -> None:
    fields = set(SERVICE_MODULES[name].Settings.model_fields)
    variables = [key for key in environment_of(compose["services"][name]) if key[:5] == "ANTT_"]
    assert variables, f"{name} has no ANTT_ settings"
    unknown = [key for key in variables if key[5:].lower() not in fields]
    assert unknown == [], f"{name}: not fields of its Settings: {unknown}"


@pytest.mark.parametrize("name", SERVICE_MODULES)
def test_service_environment_is_valid_settings(
    name: str, compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container's environment, read the way the service reads it, is accepted."""
    for key in list(os.environ):
        if key.upper().startswith("ANTT_"):
            monkeypatch.delenv(key)
    for key, value in environment_of(compose["services"][name]).items():
        if key.startswith("ANTT_"):
            monkeypatch.setenv(key, value)
    settings = SERVICE_MODULES[name].Settings()
    assert settings.env == "prod"
    assert settings.port == default_port(name)
    assert settings.database_url.startswith("postgresql+asyncpg://")


@pytest.mark.parametrize("name", SERVICE_MODULES)
def test_service_healthcheck_targets_its_ready_route(
    name: str, compose: dict[str, Any], apps: dict[str, Any]
) -> None:
    healthcheck = compose["services"][name].get("healthcheck") or {}
    assert not healthcheck.get("disable"), f"{name} has no health check"
    test = healthcheck.get("test") or []
    assert isinstance(test, list) and test[:1] in (["CMD"], ["CMD-SHELL"]), test
    if test[:3] == ["CMD", "python", "-c"]:
        compile(test[3], f"<{name} healthcheck>", "exec")
    urls = healthcheck_urls(compose["services"][name])
    assert urls == [f"http://127.0.0.1:{default_port(name)}/ready"]

    path = urlparse(urls[0]).path
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    matches = [route.matches(scope)[0] for route in apps[name].router.routes]
    assert Match.FULL in matches, f"{name} has no GET {path} route"


BROKERS = ("kafka-1", "kafka-2", "kafka-3")


def test_kafka_is_a_three_node_cluster_that_survives_one_loss(compose: dict[str, Any]) -> None:
    """Three KRaft nodes of one cluster, each in the others' quorum, each in every
    service's bootstrap list; internal and service topics at factor 3, min ISR 2."""
    brokers = {name: environment_of(compose["services"][name]) for name in BROKERS}
    cluster_ids = {env["CLUSTER_ID"] for env in brokers.values()}
    assert len(cluster_ids) == 1
    [cluster_id] = cluster_ids
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16, "not a Kafka cluster id"
    assert sorted(env["KAFKA_NODE_ID"] for env in brokers.values()) == ["1", "2", "3"]
    voters = {env["KAFKA_CONTROLLER_QUORUM_VOTERS"] for env in brokers.values()}
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    for name, env in brokers.items():
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
    volumes = [tuple(compose["services"][name]["volumes"]) for name in BROKERS]
    assert len(set(volumes)) == 3, "brokers share a data volume"
    for name, module in SERVICE_MODULES.items():
        settings = module.Settings(
            **{
                key[5:].lower(): value
                for key, value in environment_of(compose["services"][name]).items()
                if key.startswith("ANTT_KAFKA_")
            }
        )
        assert sorted(settings.kafka_bootstrap) == [f"{b}:9092" for b in BROKERS], name
        assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (3, 2)


def test_infrastructure_has_healthchecks(compose: dict[str, Any]) -> None:
    for name in INFRASTRUCTURE:
        healthcheck = compose["services"][name].get("healthcheck") or {}
        assert healthcheck.get("test") and not healthcheck.get("disable"), name


@pytest.mark.parametrize("name", SERVICE_MODULES)
def test_service_waits_for_healthy_infrastructure(name: str, compose: dict[str, Any]) -> None:
    dependencies = depends_on(compose["services"][name])
    for dependency in INFRASTRUCTURE:
        assert dependencies.get(dependency) == "service_healthy", f"{name} -> {dependency}"


# --- Prometheus ------------------------------------------------------------------------


def test_prometheus_config_is_mounted_and_scrapes_each_service(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    flags = dict(arg.split("=", 1) for arg in prometheus.get("command") or [] if "=" in arg)
    config_path = flags.get("--config.file", "/etc/prometheus/prometheus.yml")
    mounts = bind_mounts(prometheus)
    directory = str(Path(config_path).parent)
    assert directory in mounts, f"nothing mounted at {directory}"
    config_file = ROOT / mounts[directory] / Path(config_path).name
    config = yaml.safe_load(config_file.read_text())

    targets = {
        f"{name}:{discovery['port']}"
        for job in config["scrape_configs"]
        for discovery in job.get("dns_sd_configs", [])
        for name in discovery.get("names", [])
    }
    for target in targets:
        assert target.rsplit(":", 1)[0] in compose["services"], f"unknown target {target}"
    for name in SERVICE_MODULES:
        assert f"{name}:{default_port(name)}" in targets, f"{name} is not scraped"
        assert depends_on(prometheus).get(name) == "service_healthy", f"prometheus -> {name}"


# --- Grafana ---------------------------------------------------------------------------


def load_yaml_files(directory: Path) -> list[dict[str, Any]]:
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    assert files, f"no provisioning files in {directory}"
    return [yaml.safe_load(path.read_text()) for path in files]


def prometheus_datasources() -> list[dict[str, Any]]:
    return [
        source
        for document in load_yaml_files(DATASOURCES_DIR)
        for source in document.get("datasources", [])
        if source.get("type") == "prometheus"
    ]


def panels_of(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those folded inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))


@pytest.fixture(params=DASHBOARD_FILES or [DASHBOARDS_DIR / "none.json"], ids=lambda p: p.name)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each dashboard file, parsed (a missing folder or file is a failure, not a skip)."""
    path: Path = request.param
    assert path.is_file(), f"no dashboards in {DASHBOARDS_DIR}"
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def registered_metric_names(apps: dict[str, Any]) -> set[str]:
    """Series names the services expose (counters end in _total, histograms in _bucket…)."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    names: set[str] = set()
    for app in apps.values():
        for family in app.state.runtime.registry.collect():
            names.update(family.name + suffix for suffix in suffixes.get(family.type, [""]))
    return names


def test_grafana_is_provisioned_from_the_repository(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = bind_mounts(grafana)
    provisioning = Path(mounts.get("/etc/grafana/provisioning", "missing"))
    assert (ROOT / provisioning).resolve() == (GRAFANA_DIR / "provisioning").resolve()
    assert "prometheus" in depends_on(grafana)

    providers = [
        provider
        for document in load_yaml_files(DASHBOARD_PROVIDERS_DIR)
        for provider in document.get("providers", [])
    ]
    assert providers, "no dashboard provider"
    for provider in providers:
        path = provider["options"]["path"]
        assert path in mounts, f"dashboard provider reads {path}, which is not mounted"
        assert (ROOT / mounts[path]).resolve() == DASHBOARDS_DIR.resolve()

    [datasource] = prometheus_datasources()
    assert datasource["uid"] == GRAFANA_DATASOURCE_UID and datasource.get("isDefault") is True
    assert urlparse(datasource["url"]).hostname in compose["services"]


def test_dashboard_panels_query_the_provisioned_prometheus(
    dashboard: dict[str, Any], apps: dict[str, Any]
) -> None:
    uids = {source["uid"] for source in prometheus_datasources()}
    exported = registered_metric_names(apps)
    uid = dashboard.get("uid")
    assert uid and dashboard.get("title"), "a dashboard needs a uid and a title"
    panels = [panel for panel in panels_of(dashboard) if panel.get("type") != "row"]
    assert panels, f"{uid} has no panels"

    for panel in panels:
        title = f"{uid}: {panel.get('title')!r}"
        assert (panel.get("datasource") or {}).get("uid") in uids, f"{title} datasource"
        targets = panel.get("targets") or []
        assert targets, f"{title} has no targets"
        ref_ids = [target.get("refId") for target in targets]
        assert all(ref_ids) and len(set(ref_ids)) == len(ref_ids), f"{title} refIds {ref_ids}"
        for target in targets:
            expr = target.get("expr") or ""
            assert expr.strip(), f"{title} has a target without expr"
            assert (target.get("datasource") or panel["datasource"]).get("uid") in uids, title
            for metric in re.findall(r"\b(?:antt|faststream)_[a-zA-Z0-9_]*", expr):
                assert metric in exported, f"{title}: no service exports {metric}"


def test_dashboard_layout_fits_the_grid(dashboard: dict[str, Any]) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard.get("panels", []):
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and 0 <= grid["x"] and grid["x"] + grid["w"] <= 24
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel.get('title')!r} overlaps another panel"
        taken |= cells


# --- Keycloak ----------------------------------------------------------------------------


def test_keycloak_imports_the_realm_with_every_placeholder_given(compose: dict[str, Any]) -> None:
    keycloak = compose["services"]["keycloak"]
    assert "--import-realm" in keycloak["command"]
    realm_file = "deploy/keycloak/antt-realm.json"
    assert bind_mounts(keycloak)["/opt/keycloak/data/import/antt-realm.json"] == f"./{realm_file}"
    realm_text = (ROOT / realm_file).read_text()
    placeholders = set(re.findall(r"\$\{([A-Z_]+)(?::[^}]*)?\}", realm_text))
    assert placeholders and placeholders <= set(environment_of(keycloak))
    assert "users" not in json.loads(realm_text) or all(
        user.get("serviceAccountClientId") for user in json.loads(realm_text)["users"]
    ), "the realm compose imports holds no demo user"


@pytest.mark.parametrize("name", SERVICE_MODULES)
def test_services_trust_only_the_realms_tokens(name: str, compose: dict[str, Any]) -> None:
    environment = environment_of(compose["services"][name])
    assert "ANTT_JWT_SECRET" not in environment and environment["ANTT_ENV"] == "prod"
    assert environment["ANTT_OIDC_ISSUER"].endswith("/realms/antt")
    assert environment["ANTT_OIDC_DISCOVERY_URL"].startswith("http://keycloak:8080/realms/antt/")


# --- the console -----------------------------------------------------------------------


def test_the_console_is_configured_as_its_settings_read_it(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Port, known settings only, production, the services by their compose names, the
    realm's issuer; one replica's port (its sessions are in memory)."""
    service = compose["services"]["console"]
    environment = environment_of(service)
    fields = set(console_app.Settings.model_fields)
    unknown = [key for key in environment if key[:5] == "ANTT_" and key[5:].lower() not in fields]
    assert unknown == []
    for key in list(os.environ):
        if key.upper().startswith("ANTT_"):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings = console_app.Settings()
    assert settings.env == "prod" and settings.port == 8000
    assert (8000, 8000) in published_ports(service)
    assert settings.console_client_secret is not None and settings.oidc_client_secret is not None
    for name in SERVICE_MODULES:
        url = getattr(settings, f"{name}_url")
        assert url == f"http://{name}:{default_port(name)}", name
    assert environment["ANTT_OIDC_DISCOVERY_URL"].startswith("http://keycloak:8080/realms/antt/")
    assert "ANTT_JWT_SECRET" not in environment


def test_the_console_waits_for_the_services_and_checks_its_ready_route(
    compose: dict[str, Any],
) -> None:
    service = compose["services"]["console"]
    dependencies = depends_on(service)
    for name in (*SERVICE_MODULES, "keycloak"):
        assert dependencies.get(name) == "service_healthy", name
    assert healthcheck_urls(service) == ["http://127.0.0.1:8000/ready"]
    app = console_app.create_app(console_app.Settings(env="dev"))
    scope = {"type": "http", "method": "GET", "path": "/ready", "root_path": "", "headers": []}
    assert Match.FULL in [route.matches(scope)[0] for route in app.router.routes]
