"""The bureau's downloads read back: a CSV answer (which must start with a UTF-8 byte order
mark, so Excel and WPS on Windows read its Chinese as UTF-8) and an Excel workbook."""

from __future__ import annotations

import csv
import io
from typing import Any

BOM = "\ufeff"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_body(text: str) -> str:
    """A CSV download's text after its BOM, which it must start with (exactly one)."""
    assert text.startswith(BOM), f"a CSV download starts with a BOM: {text[:40]!r}"
    assert not text.startswith(BOM * 2), text[:40]
    return text[len(BOM) :]


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(csv_body(text))))


def csv_dicts(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_body(text))))


def workbook_sheet(body: bytes) -> Any:
    """The one sheet of an .xlsx download (openpyxl's Worksheet)."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(body))
    assert len(book.worksheets) == 1, book.sheetnames
    return book.worksheets[0]


def sheet_rows(sheet: Any) -> list[list[Any]]:
    """Every row's values, the header first; an empty cell is None."""
    return [list(r) for r in sheet.iter_rows(values_only=True)]
