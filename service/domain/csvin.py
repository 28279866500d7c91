"""Reading an uploaded CSV (baselines, turnover, the bank's returns): one way to find its
header and its lines, so every upload reports bad lines alike (line 1 is the header)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from service.errors import DomainError, ErrorCode

DIGITS = re.compile(r"[0-9]{1,15}", re.ASCII)  # a whole number of fen in a cell


def day(raw: str) -> date | None:
    """A YYYY-MM-DD cell as a date; None if it is not one."""
    try:
        return date.fromisoformat(raw) if len(raw) == 10 and raw.isascii() else None
    except ValueError:
        return None


@dataclass
class Upload:
    header: list[str]
    # (line number, its cells stripped) for each line with the header's number of fields.
    lines: list[tuple[int, list[str]]]
    # Line number → what is wrong with it; the parser adds its own findings.
    errors: dict[str, list[str]] = field(default_factory=dict)

    def refuse_if_bad(self, rows: int, max_rows: int) -> None:
        if rows > max_rows:
            raise DomainError(ErrorCode.INVALID_REQUEST, f"at most {max_rows} rows per upload", {})
        if self.errors:
            raise DomainError(
                ErrorCode.INVALID_REQUEST,
                f"{len(self.errors)} line(s) are not valid; nothing was stored",
                {"lines": self.errors},
            )
        if not rows:
            raise DomainError(ErrorCode.INVALID_REQUEST, "no rows after the header", {"lines": {}})


def read(text: str, headers: Sequence[Sequence[str]]) -> Upload:
    """The CSV's lines under one of `headers` (blank lines skipped; a line with another number
    of fields is an error of its own), or a DomainError when it cannot be read at all."""
    try:
        # newline="": the csv module reads CR, LF and CRLF line ends itself.
        lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    except csv.Error as err:
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            "the body is not readable as CSV",
            {"lines": {}, "csv": [str(err)]},
        ) from None
    header = [c.strip() for c in lines[0]] if lines else []
    if header not in [list(h) for h in headers]:
        expected = " or ".join(",".join(h) for h in headers)
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            f"the first line must be the header {expected}",
            {"lines": {"1": [f"Expected the header {expected}."]}},
        )
    upload = Upload(header, [])
    for number, cells in enumerate(lines[1:], start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            upload.errors[str(number)] = [f"Expected {len(header)} fields, got {len(cells)}."]
            continue
        upload.lines.append((number, [c.strip() for c in cells]))
    return upload
