"""Apache Kafka from its own jars, for the embedded stack and the tests: fetched once with
Maven into .cache/kafka, started with the machine's Java on 127.0.0.1 in KRaft mode."""

import asyncio
import base64
import concurrent.futures
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from shared.settings import PROJECT_ROOT, VAR_DIR

KAFKA_DEPLOY_DIR = PROJECT_ROOT / "deploy" / "kafka"
CACHE_DIR = PROJECT_ROOT / ".cache" / "kafka"


class LocalKafkaError(RuntimeError):
    pass


def _pom_digest() -> str:
    return hashlib.sha256((KAFKA_DEPLOY_DIR / "pom.xml").read_bytes()).hexdigest()


def fetch_jars(echo: bool = False) -> Path:
    """Copy the pinned Kafka jars into the cache once; again only when the pom changes."""
    libs = CACHE_DIR / "libs"
    marker = CACHE_DIR / "pom.sha256"
    digest = _pom_digest()
    if libs.is_dir() and marker.is_file() and marker.read_text().strip() == digest:
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise LocalKafkaError("Local Kafka needs Java 17 and Maven (`java`, `mvn`) on PATH")
    staging = CACHE_DIR / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        "mvn",
        "-B",
        "-q" if not echo else "-ntp",
        "-f",
        str(KAFKA_DEPLOY_DIR / "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    result = subprocess.run(command, capture_output=not echo, text=True, check=False)
    if result.returncode != 0:
        raise LocalKafkaError(f"mvn failed fetching Kafka jars:\n{result.stdout}\n{result.stderr}")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    marker.write_text(digest)
    return libs


# Below Linux's ephemeral range (32768+), so an outgoing connection's source port cannot
# take a port between the moment it is chosen and the moment a server binds it.
PORT_RANGE = (20000, 32000)


def free_port_block(count: int = 1) -> int:
    """The first of ``count`` consecutive ports free on 127.0.0.1."""
    for _ in range(200):
        base = random.randrange(PORT_RANGE[0], PORT_RANGE[1] - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise LocalKafkaError(f"no {count} consecutive free ports in {PORT_RANGE}")


def free_port() -> int:
    return free_port_block(1)


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _answers_metadata(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        await admin.close()


def answers_metadata(bootstrap: str) -> bool:
    # May be called from inside a running event loop (async test fixtures): probe in a thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _answers_metadata(bootstrap)).result()


@dataclass
class LocalKafka:
    data_dir: Path = field(default_factory=lambda: VAR_DIR / "kafka")
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "kafka.log"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def _java(self, libs: Path, main_class: str, *args: str) -> list[str]:
        return [
            "java",
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DEPLOY_DIR / 'log4j2.properties'}",
            "-cp",
            f"{libs}/*",
            main_class,
            *args,
        ]

    def _prepare(self, libs: Path) -> None:
        logs_dir = self.data_dir / "logs"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        template = Template((KAFKA_DEPLOY_DIR / "server.properties").read_text())
        self.config_file.write_text(
            template.substitute(
                port=self.port, controller_port=self.controller_port, data_dir=logs_dir
            )
        )
        if (logs_dir / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        result = subprocess.run(
            self._java(
                libs,
                "kafka.tools.StorageTool",
                "format",
                # "=" form: a random id may start with "-" and read as an option.
                f"--cluster-id={cluster_id}",
                "-c",
                str(self.config_file),
                "--ignore-formatted",
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalKafkaError(
                f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}"
            )

    def start(self, timeout: float = 120.0) -> int:
        """Start the broker detached and return its pid once it answers metadata requests."""
        pid = self.running_pid()
        if pid is not None:
            self.wait_ready(timeout, pid)
            return pid
        for port in (self.port, self.controller_port):
            if port_in_use(port):
                raise LocalKafkaError(f"port {port} on 127.0.0.1 is already in use")
        libs = fetch_jars()
        self._prepare(libs)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                self._java(libs, "kafka.Kafka", str(self.config_file)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        try:
            self.wait_ready(timeout, process.pid)
        except LocalKafkaError:
            self.stop()
            raise
        return process.pid

    def wait_ready(self, timeout: float, pid: int) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                finished, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                finished = 0 if self.running_pid() else pid
            if finished:
                raise LocalKafkaError(
                    f"Kafka exited during start-up; last log lines:\n{self.log_tail()}"
                )
            if port_in_use(self.port) and answers_metadata(self.bootstrap_servers):
                return
            time.sleep(0.5)
        raise LocalKafkaError(f"Kafka did not answer within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after ``timeout``); False if none ran."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(pid):
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
            if finished:
                return False
        except ChildProcessError:
            pass  # not our child: fall back to a signal probe
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
