"""Excel workbooks (.xlsx) of the bureau's tables, for the people who open every download in
Excel or WPS: one sheet holding the same rows as the CSV download (service.csvout dumps the
rows once and writes either), with real cells instead of text:

- counts and ratios are numbers, ids numbers without thousands separators, `*_rate` a
  percentage (the value stays the ratio), `leverage` and the indices two to four decimals;
- money (`*_fen` columns) is yuan, fen ÷ 100, shown `#,##0.00`, its header the column name
  without `_fen` and with the unit: `subsidy (元)`;
- days are date cells (`yyyy-mm-dd`), instants date-time cells in the festival's zone, the
  wall time the JSON answer shows (Excel has no time zones);
- text is written as text, never a formula (XlsxWriter's write_string), and text that a
  spreadsheet would run if retyped (`=`, `+`, `-`, `@`, tab, CR: OWASP CSV injection) is
  quote-prefixed, Excel's own mark for "typed with a leading '": shown as it is, and still
  text after the cell is edited. Nested values (an audit entry's before and after, a flag's
  evidence) are one cell of compact JSON, as in the CSV. Excel holds at most 32,767
  characters in a cell; a longer value is cut there (the CSV keeps it whole).

The header row is frozen and filtered, columns are as wide as their widest cell (CJK
characters count double), within bounds. XlsxWriter (write-only, maintained, pure Python)
streams the rows to a temporary file (`constant_memory`), so a 100,000-row download holds
one row in memory at a time; callers run it off the event loop (a few seconds at that size).
"""

from __future__ import annotations

import enum
import io
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import xlsxwriter

from service.answers import as_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MIN_WIDTH, _MAX_WIDTH = 6, 60
# Characters a sheet name may not hold (Excel refuses the workbook otherwise).
_SHEET_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


class Kind(enum.Enum):
    TEXT = "text"
    ID = "id"
    COUNT = "count"
    YUAN = "yuan"
    RATIO = "ratio"
    PERCENT = "percent"
    DAY = "day"
    INSTANT = "instant"
    BOOLEAN = "boolean"


_FORMATS: dict[Kind, dict[str, Any]] = {
    Kind.ID: {"num_format": "0"},
    Kind.COUNT: {"num_format": "#,##0"},
    Kind.YUAN: {"num_format": "#,##0.00"},
    Kind.RATIO: {"num_format": "0.00##"},
    Kind.PERCENT: {"num_format": "0.00%"},
    Kind.DAY: {"num_format": "yyyy-mm-dd"},
    Kind.INSTANT: {"num_format": "yyyy-mm-dd hh:mm:ss"},
}
# How wide a cell of a kind shows (characters), where its text is not the measure.
_SHOWN_WIDTH = {Kind.DAY: 10, Kind.INSTANT: 19, Kind.BOOLEAN: 5}


@dataclass(frozen=True)
class Column:
    key: str
    kind: Kind

    @property
    def header(self) -> str:
        """The money columns say their unit; every other header is the CSV's column name."""
        if self.kind is Kind.YUAN:
            return f"{self.key.removesuffix('_fen')} (元)"
        return self.key


def workbook(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], *, sheet: str) -> bytes:
    """The rows (as the JSON answer writes them: days and instants as ISO text, money in
    fen) as an .xlsx workbook of one sheet."""
    rows = rows if isinstance(rows, Sequence) else list(rows)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True})
    sheet_ = book.add_worksheet(_sheet_name(sheet))
    formats = {kind: book.add_format(spec) for kind, spec in _FORMATS.items()}
    quoted = book.add_format({"quote_prefix": True})
    bold = book.add_format({"bold": True, "bottom": 1})

    widths = [_width(c.header) for c in columns]
    for row in rows:
        for i, column in enumerate(columns):
            widths[i] = max(widths[i], _shown_width(column.kind, row[column.key]))
    for i, width in enumerate(widths):
        sheet_.set_column(i, i, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH))
    sheet_.freeze_panes(1, 0)
    if columns:
        sheet_.autofilter(0, 0, len(rows), len(columns) - 1)

    for i, column in enumerate(columns):
        sheet_.write_string(0, i, column.header, bold)
    for r, row in enumerate(rows, start=1):
        for i, column in enumerate(columns):
            value = row[column.key]
            if value is None or value == "":
                continue  # an empty cell, as in the CSV
            kind = column.kind
            if kind is Kind.YUAN and isinstance(value, int):
                sheet_.write_number(r, i, value / 100, formats[kind])
            elif kind is Kind.DAY and isinstance(value, str):
                sheet_.write_datetime(r, i, date.fromisoformat(value), formats[kind])
            elif kind is Kind.INSTANT and isinstance(value, str):
                wall = datetime.fromisoformat(value).replace(tzinfo=None)
                sheet_.write_datetime(r, i, wall, formats[kind])
            elif isinstance(value, bool):
                sheet_.write_boolean(r, i, value)
            elif isinstance(value, int | float):
                sheet_.write_number(r, i, value, formats.get(kind))
            else:
                text = _text(value)
                sheet_.write_string(r, i, text, quoted if text.startswith(_FORMULA_START) else None)
    book.close()
    return out.getvalue()


def _text(value: Any) -> str:
    return as_text(value) if isinstance(value, dict | list) else str(value)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _shown_width(kind: Kind, value: Any) -> int:
    if value is None:
        return 0
    if kind in _SHOWN_WIDTH:
        return _SHOWN_WIDTH[kind]
    if kind is Kind.YUAN and isinstance(value, int):
        return len(f"{value / 100:,.2f}")
    if kind is Kind.COUNT and isinstance(value, int):
        return len(f"{value:,}")
    if kind is Kind.PERCENT and isinstance(value, int | float):
        return len(f"{value:.2%}")
    if kind is Kind.RATIO and isinstance(value, int | float):
        return len(f"{value:.4f}")
    return _width(_text(value)[:_MAX_WIDTH])


def _sheet_name(name: str) -> str:
    return name.translate(_SHEET_FORBIDDEN).strip("'")[:31] or "Sheet1"
