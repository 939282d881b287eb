"""benchmarks.profile reads py-spy's raw samples: each sample's own time goes to the layer of
the line it was running, project functions count once per sample with what they call, the
start-up and the entry points are left out; a profiled bench run leaves latest.md alone."""

import signal
from pathlib import Path

import pytest

import benchmarks.results as results
from benchmarks.harness import run_part
from benchmarks.profile import OTHER, markdown, read_profile
from benchmarks.results import BenchRow

SQLALCHEMY = "SQLAlchemy and SQLModel"
PROJECT = "the project (services/, shared/)"
DRIVERS = "database drivers (asyncpg; aiosqlite with SQLite)"

CLI, SERVE = "<module> (services/cli.py:3)", "serve (shared/serving.py:40)"
REPORT = "report (services/reporting/api.py:10)"
STATEMENT = "Connection.execute (sqlalchemy/engine/base.py:1400)"
STACKS = [
    ([CLI, SERVE, REPORT, "execute (shared/db.py:45)", STATEMENT], 7),
    ([CLI, SERVE, REPORT], 2),
    ([STATEMENT, "PreparedStatement.fetch (asyncpg/prepared_stmt.py:170)"], 5),
    (["walk (shared/scope.py:10)", "walk (shared/scope.py:12)", "walk (shared/scope.py:12)"], 3),
    ([CLI, "_find_and_load (<frozen importlib._bootstrap>:1360)", "<module> (fastapi/a.py:1)"], 40),
    (["uuid4 (uuid.py:720)"], 1),
    (["_run_statement (shared/sqlite_cursor.py:39)"], 4),  # SQLite itself, in aiosqlite's thread
]
RAW = "".join(f"{';'.join(frames)} {count}\n" for frames, count in STACKS)


def test_own_time_goes_to_the_layer_of_the_line_being_run() -> None:
    profile = read_profile(RAW.splitlines(keepends=True), "reporting")
    assert profile.samples == 22
    assert profile.layers == {SQLALCHEMY: 7, PROJECT: 2 + 3, DRIVERS: 5 + 4, OTHER: 1}
    assert profile.share(profile.layers[SQLALCHEMY]) == pytest.approx(100 * 7 / 22)


def test_a_project_function_counts_once_a_sample_with_what_it_calls() -> None:
    profile = read_profile(RAW.splitlines(), "reporting")
    assert profile.functions["report (services/reporting/api.py)"] == 9
    assert profile.functions["execute (shared/db.py)"] == 7
    assert profile.functions["walk (shared/scope.py)"] == 3  # recursion: still once a sample


def test_start_up_and_entry_points_are_left_out() -> None:
    profile = read_profile(RAW.splitlines(), "reporting")
    assert profile.startup == 40
    assert "fastapi" not in str(profile.layers)
    assert not [name for name in profile.functions if "cli.py" in name or "serving.py" in name]


def test_a_line_without_a_count_is_refused_with_its_number() -> None:
    with pytest.raises(ValueError, match=r"reporting, line 2: no sample count"):
        read_profile(["a (shared/db.py:1) 3", "a (shared/db.py:1)"], "reporting")


def test_the_summary_lists_every_layer_and_the_top_functions() -> None:
    profile = read_profile(RAW.splitlines(), "http_intake/reporting-postgresql-1.raw")
    text = markdown([profile], top=1)
    assert "## http_intake/reporting-postgresql-1.raw" in text
    assert f"| {SQLALCHEMY} | 31.8 % |" in text
    assert "| `report (services/reporting/api.py)` | 40.9 % |" in text
    assert "execute (shared/db.py)" not in text  # beyond --top 1


def test_a_profiled_run_prints_its_figures_and_leaves_latest_md_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    monkeypatch.setattr(results, "LATEST", tmp_path / "latest.md")
    row = BenchRow("a path", "ev/s", [2.0], [4.0], "bare")

    async def rows() -> list[BenchRow]:
        return [row]

    before = signal.getsignal(signal.SIGTERM)
    try:
        run_part("part", "a part", rows(), tmp_path / "profile")
        assert not (tmp_path / "latest.md").exists()
        run_part("part", "a part", rows())
        assert "| a path |" in (tmp_path / "latest.md").read_text()
    finally:
        signal.signal(signal.SIGTERM, before)
