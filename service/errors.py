"""Domain errors and their place in API.md's error table.

Business rules raise `DomainError(code, ...)`; one middleware renders it as
`{"error": {"code", "message", "details"}}` with the status this table gives.
"""

from __future__ import annotations

from typing import Any

STATUS_BY_CODE: dict[str, int] = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "sold_out": 409,
    "limit_reached": 409,
    "not_open": 409,
    "closed": 409,
    "already_redeemed": 409,
    "expired": 409,
    "not_redeemed": 409,
    "reversal_window_passed": 409,
    "merchant_not_eligible": 409,
    "merchant_inactive": 409,
    "below_min_spend": 409,
    "idempotency_key_reused": 409,
    "conflict": 409,
    "job_running": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "internal_error": 500,
    "unavailable": 503,
}


class DomainError(Exception):
    """A refusal with a stable machine-readable code (see STATUS_BY_CODE)."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        assert code in STATUS_BY_CODE, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_found(what: str = "resource") -> DomainError:
    return DomainError("not_found", f"{what} not found")


def invalid(details: dict[str, Any], message: str = "the request is not valid") -> DomainError:
    return DomainError("invalid_request", message, details)
