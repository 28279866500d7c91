"""Domain errors and their place in API.md's error table.

Business rules raise `DomainError(code, ...)`; one middleware renders it as
`{"error": {"code", "message", "details"}}` with the status this table gives.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """The `code` of every error body (API.md's error table), with its HTTP status."""

    INVALID_REQUEST = "invalid_request"
    IMPLAUSIBLE = "implausible"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    SOLD_OUT = "sold_out"
    LIMIT_REACHED = "limit_reached"
    NOT_OPEN = "not_open"
    CLOSED = "closed"
    ALREADY_REDEEMED = "already_redeemed"
    EXPIRED = "expired"
    NOT_REDEEMED = "not_redeemed"
    REVERSAL_WINDOW_PASSED = "reversal_window_passed"
    MERCHANT_NOT_ELIGIBLE = "merchant_not_eligible"
    MERCHANT_INACTIVE = "merchant_inactive"
    BELOW_MIN_SPEND = "below_min_spend"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    LOTTERY_BATCH = "lottery_batch"
    NOT_LOTTERY = "not_lottery"
    OVER_BUDGET = "over_budget"
    MERCHANT_CAP_REACHED = "merchant_cap_reached"
    ALREADY_DRAWN = "already_drawn"
    CONFLICT = "conflict"
    JOB_RUNNING = "job_running"
    ALREADY_REVIEWED = "already_reviewed"
    DUPLICATE_APPLICATION = "duplicate_application"
    FLAG_PROVISIONAL = "flag_provisional"
    FLAG_WITHDRAWN = "flag_withdrawn"
    ALREADY_RETURNED = "already_returned"
    ALREADY_CLAWED_BACK = "already_clawed_back"
    DAY_NOT_OVER = "day_not_over"
    CLOCK_BACKWARDS = "clock_backwards"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    UNAVAILABLE = "unavailable"

    @property
    def status(self) -> int:
        # By the plain string: an Enum member hashes in Python, a str in C (hot error path).
        return _STATUS[self._value_]


STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.IMPLAUSIBLE: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.SOLD_OUT: 409,
    ErrorCode.LIMIT_REACHED: 409,
    ErrorCode.NOT_OPEN: 409,
    ErrorCode.CLOSED: 409,
    ErrorCode.ALREADY_REDEEMED: 409,
    ErrorCode.EXPIRED: 409,
    ErrorCode.NOT_REDEEMED: 409,
    ErrorCode.REVERSAL_WINDOW_PASSED: 409,
    ErrorCode.MERCHANT_NOT_ELIGIBLE: 409,
    ErrorCode.MERCHANT_INACTIVE: 409,
    ErrorCode.BELOW_MIN_SPEND: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 409,
    ErrorCode.LOTTERY_BATCH: 409,
    ErrorCode.NOT_LOTTERY: 409,
    ErrorCode.OVER_BUDGET: 409,
    ErrorCode.MERCHANT_CAP_REACHED: 409,
    ErrorCode.ALREADY_DRAWN: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.JOB_RUNNING: 409,
    ErrorCode.ALREADY_REVIEWED: 409,
    ErrorCode.DUPLICATE_APPLICATION: 409,
    ErrorCode.FLAG_PROVISIONAL: 409,
    ErrorCode.FLAG_WITHDRAWN: 409,
    ErrorCode.ALREADY_RETURNED: 409,
    ErrorCode.ALREADY_CLAWED_BACK: 409,
    ErrorCode.DAY_NOT_OVER: 409,
    ErrorCode.CLOCK_BACKWARDS: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.UNAVAILABLE: 503,
}
_STATUS = {code.value: status for code, status in STATUS_BY_CODE.items()}


# Why a voucher cannot be redeemed here, for the cashier (a preview's reason_message).
REFUSALS = {
    ErrorCode.MERCHANT_INACTIVE: "this merchant is suspended from the festival",
    ErrorCode.MERCHANT_NOT_ELIGIBLE: "this voucher cannot be used at this merchant",
    ErrorCode.ALREADY_REDEEMED: "this voucher has already been used",
    ErrorCode.EXPIRED: "this voucher has expired",
}


class DomainError(Exception):
    """A refusal with a stable machine-readable code (ErrorCode) and a message for people."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return self.code.status

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_found(what: str = "resource") -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found")
