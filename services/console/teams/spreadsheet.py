"""An XLSX workbook's first sheet as the CSV registry's import reads (UTF-8, a header
row), read with openpyxl. Dates typed as dates come out as ``YYYY-MM-DD``; whole numbers
without ``.0``; an empty row stays, so the report's row numbers are the sheet's."""

import csv
import io
import zipfile
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

MAX_UNPACKED_BYTES = 50_000_000  # a small upload that unpacks huge is refused first
MAX_ROWS = 50_000
MAX_COLUMNS = 64


class SpreadsheetError(ValueError):
    """The file is not a workbook this reader can read."""


def is_xlsx(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def xlsx_to_csv(data: bytes) -> bytes:
    """The first sheet as UTF-8 CSV; SpreadsheetError when it cannot be read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise SpreadsheetError("the workbook is too large")
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as error:
        raise SpreadsheetError("not an XLSX workbook") from error
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise SpreadsheetError("the workbook has no sheet")
        rows: list[list[str]] = []
        for values in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
            if len(rows) >= MAX_ROWS:
                raise SpreadsheetError("too many rows")
            line = [_cell_text(value) for value in values]
            while line and not line[-1]:
                line.pop()
            rows.append(line)
    finally:
        workbook.close()
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise SpreadsheetError("the sheet is empty")
    width = len(rows[0])
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    for line in rows:
        writer.writerow((line + [""] * width)[:width])
    return output.getvalue().encode()
