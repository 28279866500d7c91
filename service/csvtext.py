"""CSV text as a spreadsheet will read it: the bureau's downloads (service.csvout) and the
bank file the ledger stores (service.domain.payments) write it the same way."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from service.answers import as_text

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?", re.ASCII)


def cell(value: Any) -> Any:
    """A value as a spreadsheet will read it: text that a spreadsheet would run as a formula
    (OWASP CSV injection: `=HYPERLINK(...)`, `@SUM(...)`, `-1+cmd|...`) gets a leading `'`;
    numbers stay numbers; nested values (an audit entry's before and after, a flag's
    evidence) are one cell of compact JSON."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = as_text(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row[c]) for c in columns])
    return buffer.getvalue()
