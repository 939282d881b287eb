"""One row per measured path, project against its bare baseline from the same run, and the
table ``make bench`` prints and writes to ``benchmarks/results/latest.md``."""

import statistics as stats
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"
LATEST = RESULTS / "latest.md"


@dataclass
class BenchRow:
    """A path's medians against its baseline's. ``higher_is_better`` is False for latency
    and CPU, where the ratio is project / baseline and the target is a ceiling."""

    path: str
    unit: str
    project: list[float]
    baseline: list[float]
    baseline_name: str
    target: float | None = None  # the ratio to reach (a floor, or a ceiling for latency)
    higher_is_better: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def project_median(self) -> float:
        return stats.median(self.project)

    @property
    def baseline_median(self) -> float:
        return stats.median(self.baseline)

    @property
    def ratio(self) -> float:
        return self.project_median / self.baseline_median if self.baseline_median else 0.0

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "—"
        met = self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target
        sign = "≥" if self.higher_is_better else "≤"
        return f"{'met' if met else 'NOT met'} ({sign} {self.target:g})"


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def print_rows(title: str, rows: list[BenchRow], console: Console | None = None) -> None:
    table = Table(title=title)
    for column in ("path", "project", "baseline", "ratio", "target", "runs"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for row in rows:
        table.add_row(
            row.path,
            f"{_figure(row.project_median)} {row.unit}",
            f"{_figure(row.baseline_median)} {row.unit} ({row.baseline_name})",
            f"{row.ratio:.3f}",
            row.verdict,
            str(len(row.project)),
        )
    (console or Console()).print(table)


def markdown(rows: list[BenchRow]) -> str:
    lines = [
        "| path | project | baseline | ratio | target | runs |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.path} | {_figure(row.project_median)} {row.unit} "
            f"| {_figure(row.baseline_median)} {row.unit} ({row.baseline_name}) "
            f"| {row.ratio:.3f} | {row.verdict} | {len(row.project)} |"
        )
        lines += [f"|  ↳ {note} | | | | | |" for note in row.notes]
    return "\n".join(lines) + "\n"


def write_section(name: str, title: str, rows: list[BenchRow]) -> Path:
    """Replace this benchmark's section of latest.md, keeping the other benchmarks'."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    sections: dict[str, str] = {}
    if LATEST.exists():
        current = None
        for line in LATEST.read_text().splitlines(keepends=True):
            if line.startswith("<!-- section: "):
                current = line.removeprefix("<!-- section: ").split(" ", 1)[0]
                # What follows the marker on its line (its newline) belongs to the section.
                sections[current] = line.split("-->", 1)[1] if "-->" in line else ""
            elif current is not None:
                sections[current] += line
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections[name] = f"\n## {title}\n\nMeasured {stamp}.\n\n{markdown(rows)}\n"
    body = "# `make bench`: each path against a bare baseline in the same run (medians)\n"
    body += "".join(f"<!-- section: {key} -->{text}" for key, text in sorted(sections.items()))
    LATEST.write_text(body)
    return LATEST


def finish(name: str, title: str, rows: list[BenchRow], began: float, console: Console) -> None:
    """Print a benchmark's table and write its section of latest.md."""
    print_rows(title, rows, console)
    path = write_section(name, title, rows)
    console.print(f"wrote {path} ({time.perf_counter() - began:.0f} s in all)")
