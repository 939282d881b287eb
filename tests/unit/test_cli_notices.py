"""`antt` run by a person at a terminal says once, in a sentence, that a development key
is in use; run by a script (stderr not a terminal) it says nothing of it, and a token
captured with `TOKEN=$(antt token issue …)` is the token alone."""

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import PROJECT_ROOT
from tests.registry_support import csv_bytes, team_rows


def antt(args: list[str], env: dict[str, str], terminal: bool) -> tuple[int, str, str]:
    """Run ``antt``; its stderr on a pseudo-terminal when ``terminal``. Returns the exit
    code, stdout and stderr."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("ANTT_")}
    command = [sys.executable, "-m", "services.cli", *args]
    if not terminal:
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env={**base, **env}, capture_output=True, timeout=120
        )
        return done.returncode, done.stdout.decode(), done.stderr.decode()
    controller, terminal_end = pty.openpty()
    try:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**base, **env, "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=terminal_end,
            stdin=subprocess.DEVNULL,
        )
        os.close(terminal_end)
        stdout, _ = process.communicate(timeout=120)
        written = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(controller)
    return process.returncode, stdout.decode(), written.decode(errors="replace")


def key_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "development key" in line]


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "script"])
def test_token_issue_names_the_development_key_once_and_only_on_a_terminal(terminal: bool):
    code, stdout, stderr = antt(
        ["token", "issue", "--role", "admin", "--subject", "demo"], {}, terminal
    )
    assert code == 0, stderr
    assert stdout.count(".") == 2 and "\n" == stdout[-1] and " " not in stdout.strip()
    if terminal:
        [line] = key_lines(stderr)
        assert line.lstrip().startswith("\x1b") or line.startswith("warning:")
        assert "ANTT_JWT_SECRET" in line
        assert "{" not in stderr and "dev_signing_key_in_use" not in stderr
    else:
        assert key_lines(stderr) == [] and stderr == ""


def test_import_teams_names_the_development_key_once_on_a_terminal(tmp_path: Path):
    env = {"ANTT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/registry.db"}
    assert antt(["db", "upgrade", "registry"], env, terminal=False)[0] == 0
    (tmp_path / "teams.csv").write_bytes(csv_bytes(team_rows("A", "TH-XX", "civil_defence", 1)))

    code, _, stderr = antt(["import", "teams", str(tmp_path / "teams.csv")], env, terminal=True)
    assert code == 1, stderr  # the area is unknown: nothing imported, the run complete
    assert "unknown area 'TH-XX'" in stderr
    assert len(key_lines(stderr)) == 1, stderr
    assert not [line for line in stderr.splitlines() if line.lstrip().startswith("{")]
