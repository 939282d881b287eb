"""A benchmark's --profile for real: py-spy attached to a running Python process of the
project's code until it stops, its samples written where benchmarks.profile reads them and
put in the project's layer, under the function that was busy."""

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import ServiceProcess, sample_with_py_spy
from benchmarks.profile import read_profile
from shared.settings import PROJECT_ROOT

BUSY = (
    "from shared.db import advisory_lock_key\nwhile True:\n    advisory_lock_key('team-score:1')\n"
)
PROJECT_LAYER = "the project (services/, shared/)"


def test_py_spy_samples_a_process_until_it_stops_and_the_busy_function_leads(
    tmp_path: Path,
) -> None:
    log = tmp_path / "busy-1.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", BUSY], cwd=PROJECT_ROOT, stdout=output, stderr=output
        )
    busy = ServiceProcess("busy", 1, process, log, {"ANTT_DATABASE_URL": "sqlite+aiosqlite:///x"})
    written = sample_with_py_spy(busy, tmp_path / "profile")
    try:
        time.sleep(3)
    finally:
        busy.stop()
        written()
    raw = tmp_path / "profile" / "busy-sqlite-1.raw"
    assert raw.exists(), (tmp_path / "busy-1.py-spy.log").read_text()
    profile = read_profile(raw.read_text().splitlines(), raw.name)
    assert profile.samples > 50  # three seconds at 100 a second, less the start-up
    assert profile.share(profile.layers[PROJECT_LAYER]) > 50
    leader, _ = profile.functions.most_common(1)[0]
    assert leader == "advisory_lock_key (shared/db.py)"
