"""Bulk import API schemas: the report of an import and its invalid rows."""

from sqlmodel import Field, SQLModel


class ImportRowError(SQLModel):
    row: int = Field(description="1-based line number in the file (the header is line 1)")
    field: str
    message: str


class ImportReport(SQLModel):
    rows: int
    teams: int = Field(description="Teams imported")
    members: int = Field(description="Memberships imported")
    skipped_rows: int
    errors: list[ImportRowError]
