"""Keycloak from its own distribution, for the embedded stack and the tests: fetched once
with Maven into .cache/keycloak, run in start-dev mode on 127.0.0.1 with a Java 21+ JDK, its
embedded database under var/, the `antt` realm and its demo users imported on first start."""

import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.local_kafka import pom_digest
from shared.local_process import DetachedProcess, port_in_use
from shared.settings import PROJECT_ROOT, VAR_DIR

KEYCLOAK_DEPLOY_DIR = PROJECT_ROOT / "deploy" / "keycloak"
CACHE_DIR = PROJECT_ROOT / ".cache" / "keycloak"
REALM = "antt"
# What the embedded stack imports: the realm, then its demo users (compose imports the
# realm alone).
IMPORT_FILES = ("antt-realm.json", "antt-users-0.json")
MIN_JAVA = 21
JVM_DIRS = (Path("/usr/lib/jvm"), Path("/usr/local/lib/jvm"), Path("/opt/java"))


class LocalKeycloakError(RuntimeError):
    pass


def fetch_distribution(echo: bool = False) -> Path:
    """Unpack the pinned distribution into the cache once; again only when the pom or the
    realm files change. Returns Keycloak's home folder."""
    marker = CACHE_DIR / "pom.sha256"
    digest = pom_digest(KEYCLOAK_DEPLOY_DIR, "pom.xml", *IMPORT_FILES)
    home = _home_in(CACHE_DIR / "dist")
    if home is not None and marker.is_file() and marker.read_text().strip() == digest:
        return home
    if shutil.which("mvn") is None:
        raise LocalKeycloakError("Local Keycloak needs Maven (`mvn`) on PATH to fetch it")
    staging = CACHE_DIR / "dist.partial"
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        "mvn",
        "-B",
        "-q" if not echo else "-ntp",
        "-f",
        str(KEYCLOAK_DEPLOY_DIR / "pom.xml"),
        "dependency:unpack-dependencies",
        f"-DoutputDirectory={staging}",
        f"-DmarkersDirectory={CACHE_DIR / 'markers'}",
        "-DoverWriteReleases=true",
    ]
    result = subprocess.run(command, capture_output=not echo, text=True, check=False)
    unpacked = _home_in(staging)
    if result.returncode != 0 or unpacked is None:
        raise LocalKeycloakError(
            f"mvn failed fetching Keycloak:\n{result.stdout or ''}\n{result.stderr or ''}"
        )
    imports = unpacked / "data" / "import"
    imports.mkdir(parents=True, exist_ok=True)
    for name in IMPORT_FILES:
        shutil.copy2(KEYCLOAK_DEPLOY_DIR / name, imports / name)
    shutil.rmtree(CACHE_DIR / "dist", ignore_errors=True)
    shutil.rmtree(CACHE_DIR / "markers", ignore_errors=True)
    staging.rename(CACHE_DIR / "dist")
    marker.write_text(digest)
    home = _home_in(CACHE_DIR / "dist")
    assert home is not None
    return home


def _home_in(folder: Path) -> Path | None:
    homes = sorted(folder.glob("keycloak-*/bin/kc.sh")) if folder.is_dir() else []
    return homes[-1].parent.parent if homes else None


def java_major(java_home: Path) -> int:
    """The feature version a JDK's `release` file declares (0 when it says none)."""
    try:
        release = (java_home / "release").read_text()
    except OSError:
        return 0
    found = re.search(r'^JAVA_VERSION="(\d+)', release, re.MULTILINE)
    return int(found.group(1)) if found else 0


def find_java_home() -> Path:
    """A JDK new enough for Keycloak: ANTT_KEYCLOAK_JAVA_HOME, else JAVA_HOME, else the
    newest under the usual JVM folders (the machine's default Java 17 is too old)."""
    for variable in ("ANTT_KEYCLOAK_JAVA_HOME", "JAVA_HOME"):
        value = os.environ.get(variable)
        if value and java_major(Path(value)) >= MIN_JAVA:
            return Path(value)
    candidates = [
        (java_major(home), home)
        for folder in JVM_DIRS
        if folder.is_dir()
        for home in folder.iterdir()
        if (home / "bin" / "java").exists()
    ]
    usable = sorted((major, str(home)) for major, home in candidates if major >= MIN_JAVA)
    if not usable:
        raise LocalKeycloakError(
            f"Keycloak needs Java {MIN_JAVA} or newer; none found in "
            f"{', '.join(map(str, JVM_DIRS))}. Install one, or set ANTT_KEYCLOAK_JAVA_HOME"
        )
    return Path(usable[-1][1])


@dataclass
class LocalKeycloak:
    data_dir: Path = field(default_factory=lambda: VAR_DIR / "keycloak")
    port: int = 8180
    management_port: int = 8181
    heap: str = "512m"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{REALM}"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "keycloak.log"

    @property
    def process(self) -> DetachedProcess:
        return DetachedProcess(self.data_dir / "keycloak.pid", self.log_file)

    @property
    def admin_password_file(self) -> Path:
        return self.data_dir / "admin-password"

    def admin_password(self) -> str:
        """The bootstrap admin's password (user `antt-bootstrap`, realm master), made once."""
        if not self.admin_password_file.is_file():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.admin_password_file.write_text(secrets.token_urlsafe(18))
            self.admin_password_file.chmod(0o600)
        return self.admin_password_file.read_text().strip()

    def running_pid(self) -> int | None:
        return self.process.running_pid()

    def start(self, timeout: float = 180.0) -> int:
        """Start Keycloak detached and return its pid once the realm answers."""
        pid = self.launch()
        try:
            self.wait_ready(timeout, pid)
        except LocalKeycloakError:
            self.stop()
            raise
        return pid

    def launch(self) -> int:
        pid = self.running_pid()
        if pid is not None:
            return pid
        for port in (self.port, self.management_port):
            if port_in_use(port):
                raise LocalKeycloakError(f"port {port} on 127.0.0.1 is already in use")
        home = fetch_distribution()
        java_home = find_java_home()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "JAVA_HOME": str(java_home),
            "PATH": f"{java_home / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "JAVA_OPTS_KC_HEAP": f"-Xms{self.heap} -Xmx{self.heap}",
            # Each instance keeps its transactions' state beside its own database.
            "JAVA_OPTS_APPEND": "-Dquarkus.transaction-manager.object-store.directory="
            f"{self.data_dir / 'transaction-logs'}",
            "KC_BOOTSTRAP_ADMIN_USERNAME": "antt-bootstrap",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self.admin_password(),
        }
        command = [
            str(home / "bin" / "kc.sh"),
            "start-dev",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            f"--hostname={self.url}",  # tokens name this issuer however they were asked for
            "--health-enabled=true",
            f"--http-management-port={self.management_port}",
            f"--db-url=jdbc:h2:file:{self.data_dir / 'database' / 'keycloak'};NON_KEYWORDS=VALUE",
            "--import-realm",  # the realm and demo users, once: an existing realm is kept
        ]
        return self.process.launch(command, env=env, cwd=self.data_dir)

    def answers(self) -> bool:
        try:
            health = httpx.get(f"http://127.0.0.1:{self.management_port}/health/ready", timeout=2)
            realm = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
        except httpx.HTTPError:
            return False
        return health.status_code == 200 and realm.status_code == 200

    def wait_ready(self, timeout: float, pid: int | None = None) -> None:
        pid = pid or self.running_pid()
        if pid is None:
            raise LocalKeycloakError(f"Keycloak is not running; last log lines:\n{self.log_tail()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.exited(pid):
                raise LocalKeycloakError(
                    f"Keycloak exited during start-up; last log lines:\n{self.log_tail()}"
                )
            if self.answers():
                return
            time.sleep(0.5)
        raise LocalKeycloakError(
            f"Keycloak did not answer within {timeout:.0f}s:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 30.0) -> bool:
        return self.process.stop(timeout)

    def log_tail(self, lines: int = 30) -> str:
        return self.process.log_tail(lines)
