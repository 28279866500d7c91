"""Presentation: how rows become the JSON bodies and CSV rows of API.md, per area."""

from __future__ import annotations

import json
from typing import Any


def as_text(body: Any) -> str:
    """A JSON answer as stored for replay (idempotency keys) and sent: compact, UTF-8 as is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
