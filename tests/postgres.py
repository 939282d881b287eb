"""A throwaway PostgreSQL cluster from Debian's packages, for tests on the real thing."""

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import asyncpg

from shared.local_kafka import free_port


def postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class PostgresServer:
    """initdb + pg_ctl in a temporary folder, listening on 127.0.0.1 only."""

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (`make test` installs it)")
        self.bin_dir = bin_dir
        # Not under pytest's root-only temp folder: the postgres account must reach it.
        base_dir = Path(tempfile.mkdtemp(prefix="antt-pg-"))
        self.base_dir = base_dir
        self.data_dir = base_dir / "pgdata"
        self.socket_dir = base_dir / "pgsocket"
        self.port = free_port()
        self.user = "postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run its tools as the postgres account.
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}{result.stderr}")

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base_dir, "postgres", "postgres")
        for folder in (self.data_dir, self.socket_dir):
            folder.mkdir()
            if os.geteuid() == 0:
                shutil.chown(folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data_dir), "-U", self.user, "-A", "trust", "-E", "UTF8")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            "-l",
            str(self.data_dir / "server.log"),
        )

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    async def create_database(self, prefix: str = "antt") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=self.user, database="postgres"
        )
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)
