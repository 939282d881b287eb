"""Registry test helpers: building an area tree and teams through the HTTP API, and
generating the CSV files wards import."""

import csv
import io
import itertools
import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select

from shared.db import execute

_counter = itertools.count(1)


def member(role: str = "member", *, name: str | None = None, born: str = "1980-05-01") -> dict:
    return {
        "full_name": name or f"Thành viên {next(_counter)}",
        "birth_date": born,
        "role": role,
        "joined_on": "2024-07-01",
    }


def roster(size: int) -> list[dict]:
    """A leader, then members."""
    return [member("leader")] + [member() for _ in range(size - 1)]


class RegistryClient:
    """The registry's API as a ward officer uses it, failing loudly on surprises."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def ok(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, **kwargs)
        assert response.status_code == expected, f"{method} {path}: {response.text}"
        return response.json()

    async def area(
        self, code: str, level: str, parent: dict | None = None, **extra: Any
    ) -> dict[str, Any]:
        body = {"code": code, "name": f"Khu {code}", "level": level, **extra}
        if parent is not None:
            body["parent_id"] = parent["id"]
        return await self.ok("POST", "/areas", 201, json=body)

    async def tree(self, province: str = "HN") -> dict[str, dict[str, Any]]:
        """A province with a district, two wards and two groups in the first ward."""
        p = await self.area(province, "province")
        d = await self.area(f"{province}-D", "district", p)
        w1 = await self.area(f"{province}-W1", "ward", d)
        w2 = await self.area(f"{province}-W2", "ward", d)
        g1 = await self.area(f"{province}-W1-G1", "residential_group", w1)
        g2 = await self.area(f"{province}-W1-G2", "residential_group", w1)
        return {"province": p, "district": d, "w1": w1, "w2": w2, "g1": g1, "g2": g2}

    async def team(
        self, area: dict, kind: str = "civil_defence", members: list[dict] | None = None, **extra
    ) -> dict[str, Any]:
        body = {
            "area_id": area["id"],
            "name": f"Tổ {next(_counter)}",
            "kind": kind,
            "members": roster(3) if members is None else members,
            **extra,
        }
        return await self.ok("POST", "/teams", 201, json=body)

    async def summary(self, area: dict) -> dict[str, Any]:
        return await self.ok("GET", f"/areas/{area['id']}/summary")

    async def kinds(self, area: dict) -> dict[str, tuple[int, int]]:
        """(teams, members) per kind that has any."""
        summary = await self.summary(area)
        return {
            entry["kind"]: (entry["teams"], entry["members"])
            for entry in summary["by_kind"]
            if entry["teams"] or entry["members"]
        }


async def outbox_events(runtime: Any) -> list[tuple[str, dict[str, Any]]]:
    async with runtime.sessions() as session:
        rows = await execute(
            session, select(runtime.outbox.table).order_by(runtime.outbox.table.c.id)
        )
        return [(row["event_type"], json.loads(row["payload"])) for row in rows.mappings().all()]


CSV_COLUMNS = (
    "team_ref",
    "area_code",
    "team_name",
    "kind",
    "founded_on",
    "decision_number",
    "decision_issued_on",
    "decision_issuer",
    "covered_area_codes",
    "member_name",
    "birth_date",
    "phone",
    "role",
    "joined_on",
)


def team_rows(
    ref: str, area_code: str, kind: str, size: int, *, founded: date | None = None
) -> list[dict[str, str]]:
    """The rows of one team in a ward's spreadsheet: a leader and ``size - 1`` members
    (one row with no member when ``size`` is 0)."""
    team = {
        "team_ref": ref,
        "area_code": area_code,
        "team_name": f"Tổ {ref}",
        "kind": kind,
        "founded_on": (founded or date(2024, 7, 1)).isoformat(),
        "decision_number": f"{ref}/QĐ-UBND",
        "decision_issued_on": (founded or date(2024, 7, 1)).isoformat(),
        "decision_issuer": "Chủ tịch UBND phường",
    }
    if size == 0:
        return [team]
    rows = []
    for index in range(size):
        rows.append(
            {
                **team,
                "member_name": f"Người {ref}-{index + 1}",
                "birth_date": "1975-03-15",
                "role": "leader" if index == 0 else "member",
                "joined_on": "2024-07-01",
            }
        )
    return rows


def csv_bytes(rows: Iterable[dict[str, str]], columns: Sequence[str] = CSV_COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns))
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in columns})
    return out.getvalue().encode()
