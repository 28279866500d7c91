"""An answer as the domain stores it for replay (idempotency keys) and the API sends it: byte
for byte the same text. Below both, so that both write it one way."""

from __future__ import annotations

import json
from typing import Any


def as_text(body: Any) -> str:
    """A JSON answer as stored for replay (idempotency keys) and sent: compact, UTF-8 as is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
