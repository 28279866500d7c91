"""The outbox's counts as the bureau reads them: every status and kind named, zeros too."""

from __future__ import annotations

from typing import Any

from service.domain.messages import Outbox
from service.vocabulary import MESSAGE_KINDS, MESSAGE_STATUSES


def outbox(found: Outbox) -> dict[str, Any]:
    by_status = dict.fromkeys(MESSAGE_STATUSES, 0)
    by_kind = dict.fromkeys(MESSAGE_KINDS, 0)
    for row in found.counts:
        by_status[row["status"]] += row["messages"]
        by_kind[row["kind"]] += row["messages"]
    return {
        "counts": {"total": sum(by_status.values()), "by_status": by_status, "by_kind": by_kind},
        "items": found.items,
        "next_before_id": found.next_before_id,
    }
