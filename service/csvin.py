"""Reading an uploaded CSV (baselines, turnover, the bank's returns): one way to find its
header and its lines, so every upload reports bad lines alike (line 1 is the header). Each
line's cells are then read by the upload's row schema (service.schemas.common.read_rows)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.errors import DomainError, ErrorCode


@dataclass
class Upload:
    header: list[str]
    # (line number, its cells stripped) for each line with the header's number of fields.
    lines: list[tuple[int, list[str]]]
    # Line number → what is wrong with it; the parser adds its own findings.
    errors: dict[str, list[str]] = field(default_factory=dict)


def refuse_if_bad(rows: int, errors: dict[str, list[str]], max_rows: int) -> None:
    """An upload is stored whole or not at all: every bad line is named (400), and so is an
    upload too long or without rows."""
    if rows > max_rows:
        raise DomainError(ErrorCode.INVALID_REQUEST, f"at most {max_rows} rows per upload", {})
    if errors:
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            f"{len(errors)} line(s) are not valid; nothing was stored",
            {"lines": errors},
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
