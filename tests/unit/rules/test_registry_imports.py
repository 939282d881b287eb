"""Spreadsheet import rules as plain functions: reading the file, grouping rows into teams,
and which row and column an error points at."""

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.imports.rules import (
    COLUMNS,
    ImportFileError,
    RowError,
    area_codes,
    group_rows,
    read_rows,
    row_error,
    validation_row_errors,
)

# Small examples, a few dozen per property: each test stays well under a second.
QUICK = settings(max_examples=40)


def csv_bytes(rows: list[dict[str, str]], header: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def team_row(ref: str, member: str = "", **values: str) -> dict[str, str]:
    return {
        "team_ref": ref,
        "area_code": "W",
        "team_name": f"Tổ {ref}",
        "kind": "mediation",
        "member_name": member,
        **values,
    }


refs = st.text(alphabet="ABC", min_size=1, max_size=2)


@QUICK
@given(st.lists(st.tuples(refs, st.text(alphabet="xyz", max_size=3)), max_size=12))
def test_rows_group_into_teams_by_ref_in_file_order(rows):
    data = csv_bytes([team_row(ref, member) for ref, member in rows])
    errors: list[RowError] = []
    teams = group_rows(read_rows(data), errors)
    assert errors == []
    assert [team.ref for team in teams] == list(dict.fromkeys(ref for ref, _ in rows))
    for team in teams:
        members = [member for ref, member in rows if ref == team.ref and member]
        assert [values["member_name"] for _, values in team.members] == members
        assert team.first_row == min(team.rows)


def test_a_later_row_may_not_contradict_its_team():
    data = csv_bytes([team_row("A", "x"), team_row("A", "y", kind="rapid_response")])
    errors: list[RowError] = []
    group_rows(read_rows(data), errors)
    assert errors == [RowError(row=3, field="kind", message="differs from row 2 of team 'A'")]


def test_the_file_must_be_utf8_with_the_known_columns():
    with pytest.raises(ImportFileError, match="not UTF-8"):
        read_rows("team_ref\n\xff".encode("latin-1"))
    with pytest.raises(ImportFileError, match="lacks column"):
        read_rows(b"team_ref,area_code\nA,W\n")
    with pytest.raises(ImportFileError, match="unknown column"):
        read_rows(csv_bytes([], (*COLUMNS, "colour")))


def test_area_codes_collects_areas_and_covered_groups():
    rows = read_rows(
        csv_bytes([team_row("A", covered_area_codes="G1; G2"), team_row("B", area_code="")])
    )
    assert area_codes(rows) == {"W", "G1", "G2"}


def test_an_error_points_at_the_members_row_and_column():
    data = csv_bytes([team_row("A", "x"), team_row("A", "y")])
    [team] = group_rows(read_rows(data), [])
    assert row_error(team, ["members", 1, "birth_date"], "too old") == RowError(
        3, "birth_date", "too old"
    )
    assert row_error(team, ["members", 0, "full_name"], "m") == RowError(2, "member_name", "m")
    assert row_error(team, ["covered_area_ids"], "m") == RowError(2, "covered_area_codes", "m")
    assert row_error(team, [], "m") == RowError(2, "team", "m")


def test_validation_problems_read_like_the_apis_answers():
    problems = [
        {"loc": ("birth_date",), "msg": "Value error, cannot be in the future"},
        {"loc": (), "msg": "bad"},
    ]
    assert validation_row_errors(problems, 7, {"birth_date": "birth_date"}) == [
        RowError(7, "birth_date", "cannot be in the future"),
        RowError(7, "row", "bad"),
    ]
