"""Apache Kafka from its own jars, for the embedded stack and the tests: fetched once with
Maven into .cache/kafka, started with the machine's Java on 127.0.0.1 in KRaft mode, as one
node or as a cluster of several (each node both broker and controller)."""

import asyncio
import base64
import concurrent.futures
import hashlib
import json
import logging
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

from shared.local_process import DetachedProcess, port_in_use
from shared.settings import PROJECT_ROOT, VAR_DIR

KAFKA_DEPLOY_DIR = PROJECT_ROOT / "deploy" / "kafka"
CACHE_DIR = PROJECT_ROOT / ".cache" / "kafka"


class LocalKafkaError(RuntimeError):
    pass


def pom_digest(folder: Path, *names: str) -> str:
    """A digest of what a cached download was made from: when it changes, fetch again."""
    digest = hashlib.sha256()
    for name in names:
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def fetch_jars(echo: bool = False) -> Path:
    """Copy the pinned Kafka jars into the cache once; again only when the pom changes."""
    libs = CACHE_DIR / "libs"
    marker = CACHE_DIR / "pom.sha256"
    digest = pom_digest(KAFKA_DEPLOY_DIR, "pom.xml")
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


async def _brokers_answering(bootstrap: str) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return len(cluster.get("brokers") or [])
    except Exception:
        return 0
    finally:
        await admin.close()


def brokers_answering(bootstrap: str) -> int:
    """How many brokers the cluster reached through ``bootstrap`` reports (0: none answer)."""
    # A probe of a starting broker is meant to fail now and then: not worth a log line.
    library_log = logging.getLogger("aiokafka")
    level = library_log.level
    library_log.setLevel(logging.CRITICAL)
    try:
        # May be called from inside a running event loop (async fixtures): probe in a thread.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, _brokers_answering(bootstrap)).result()
    finally:
        library_log.setLevel(level)


def answers_metadata(bootstrap: str) -> bool:
    return brokers_answering(bootstrap) > 0


@dataclass
class LocalKafka:
    """One node: alone, or one of a ``LocalKafkaCluster``'s (which sets the node id, the
    quorum, the shared cluster id and the replication settings)."""

    data_dir: Path = field(default_factory=lambda: VAR_DIR / "kafka")
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    node_id: int = 1
    voters: str = ""  # the controller quorum; alone: this node
    cluster_id: str = ""  # the same on every node of a cluster; alone: a fresh one
    replication_factor: int = 1
    min_insync_replicas: int = 1

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

    @property
    def process(self) -> DetachedProcess:
        return DetachedProcess(self.pid_file, self.log_file)

    def running_pid(self) -> int | None:
        return self.process.running_pid()

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
                node_id=self.node_id,
                voters=self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}",
                port=self.port,
                controller_port=self.controller_port,
                data_dir=logs_dir,
                replication_factor=self.replication_factor,
                min_insync_replicas=self.min_insync_replicas,
            )
        )
        if (logs_dir / "meta.properties").exists():
            return
        cluster_id = self.cluster_id or new_cluster_id()
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
        pid = self.launch()
        try:
            self.wait_ready(timeout, pid)
        except LocalKafkaError:
            self.stop()
            raise
        return pid

    def launch(self) -> int:
        """Start the node's process (if it does not run) without waiting for it."""
        pid = self.running_pid()
        if pid is not None:
            return pid
        for port in (self.port, self.controller_port):
            if port_in_use(port):
                raise LocalKafkaError(f"port {port} on 127.0.0.1 is already in use")
        libs = fetch_jars()
        self._prepare(libs)
        return self.process.launch(self._java(libs, "kafka.Kafka", str(self.config_file)))

    def kill(self) -> None:
        """SIGKILL the node, as a crash would: no clean shutdown, no leadership handed over."""
        self.process.kill()

    def wait_ready(self, timeout: float, pid: int) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.exited(pid):
                raise LocalKafkaError(
                    f"Kafka exited during start-up; last log lines:\n{self.log_tail()}"
                )
            if port_in_use(self.port) and answers_metadata(self.bootstrap_servers):
                return
            time.sleep(0.5)
        raise LocalKafkaError(f"Kafka did not answer within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after ``timeout``); False if none ran."""
        return self.process.stop(timeout)

    def log_tail(self, lines: int = 30) -> str:
        return self.process.log_tail(lines)


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


CLUSTER_FILE = "cluster.json"


@dataclass
class LocalKafkaCluster:
    """Several KRaft nodes on 127.0.0.1, each broker and controller, in ``data_dir/node-N``.
    Node N (from 0) listens on ``port + 2N`` and its controller on ``controller_port + 2N``,
    so one node keeps the single broker's ports. With three or more nodes, topics get
    replication factor 3 and min.insync.replicas 2: one node may fail without losing an
    acknowledged record or refusing a write."""

    data_dir: Path = field(default_factory=lambda: VAR_DIR / "kafka")
    port: int = 9092
    controller_port: int = 9093
    size: int = 3
    heap: str = "384m"

    @property
    def replication_factor(self) -> int:
        return min(self.size, 3)

    @property
    def min_insync_replicas(self) -> int:
        return max(1, self.replication_factor - 1)

    @property
    def nodes(self) -> list[LocalKafka]:
        cluster_id = self._cluster_id()
        voters = ",".join(
            f"{n + 1}@127.0.0.1:{self.controller_port + 2 * n}" for n in range(self.size)
        )
        return [
            LocalKafka(
                data_dir=self.data_dir / f"node-{n + 1}",
                port=self.port + 2 * n,
                controller_port=self.controller_port + 2 * n,
                heap=self.heap,
                node_id=n + 1,
                voters=voters,
                cluster_id=cluster_id,
                replication_factor=self.replication_factor,
                min_insync_replicas=self.min_insync_replicas,
            )
            for n in range(self.size)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def _cluster_id(self) -> str:
        try:
            return str(json.loads((self.data_dir / CLUSTER_FILE).read_text())["cluster_id"])
        except (OSError, ValueError, KeyError):
            return ""

    def _describe(self) -> str:
        # Every node is formatted with the same id, kept beside them for restarts and for
        # `antt kafka stop|status`, which find the cluster's size and ports there.
        if cluster_id := self._cluster_id():
            return cluster_id
        described = self.data_dir / CLUSTER_FILE
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = new_cluster_id()
        described.write_text(
            json.dumps(
                {
                    "cluster_id": cluster_id,
                    "size": self.size,
                    "port": self.port,
                    "controller_port": self.controller_port,
                }
            )
        )
        return cluster_id

    def start(self, timeout: float = 180.0) -> list[int]:
        """Start every node, then return their pids once all of them are brokers of the
        cluster (a quorum needs a majority of the nodes before any of them answers)."""
        self._describe()
        nodes = self.nodes
        pids = [node.launch() for node in nodes]
        try:
            self.wait_ready(timeout)
        except LocalKafkaError:
            self.stop()
            raise
        return pids

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Wait until every node answers, itself, as one of the cluster's brokers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                pid = node.running_pid()
                if pid is None or node.process.exited(pid):
                    raise LocalKafkaError(
                        f"Kafka node {node.node_id} is not running; last log lines:\n"
                        f"{node.log_tail()}"
                    )
            if all(brokers_answering(node.bootstrap_servers) >= self.size for node in self.nodes):
                return
            time.sleep(0.5)
        tails = "\n".join(f"node {n.node_id}:\n{n.log_tail(10)}" for n in self.nodes)
        raise LocalKafkaError(f"the Kafka cluster did not form within {timeout:.0f}s:\n{tails}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop every node; False if none ran."""
        nodes = self.nodes
        pids = {node.node_id: node.running_pid() for node in nodes}
        if not any(pids.values()):
            return False
        # SIGTERM to all at once: stopped one by one, the last ones wait for a quorum.
        for node in nodes:
            pid = pids[node.node_id]
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
        for node in nodes:
            node.stop(timeout)
        return True

    def running_pids(self) -> dict[int, int | None]:
        """Each node's pid, None for a node that does not run."""
        return {node.node_id: node.running_pid() for node in self.nodes}


def local_kafka_at(
    data_dir: Path, port: int = 9092, controller_port: int = 9093
) -> LocalKafka | LocalKafkaCluster:
    """Whatever ``antt kafka start`` left in ``data_dir``: a cluster (as it was started)
    or a single node."""
    try:
        described = json.loads((data_dir / CLUSTER_FILE).read_text())
    except (OSError, ValueError):
        return LocalKafka(data_dir=data_dir, port=port, controller_port=controller_port)
    return LocalKafkaCluster(
        data_dir=data_dir,
        port=int(described["port"]),
        controller_port=int(described["controller_port"]),
        size=int(described["size"]),
    )
