"""Fixed-window rate limits kept in PostgreSQL, so every process shares the same counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.db import Conn, Database
from service.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window_s: int


OTP_PER_PHONE_MINUTE = Limit("otp-phone-1m", 1, 60)
OTP_PER_PHONE_HOUR = Limit("otp-phone-1h", 5, 3600)
OTP_PER_PHONE_DAY = Limit("otp-phone-1d", 10, 86400)
OTP_PER_IP_HOUR = Limit("otp-ip-1h", 30, 3600)
LOGIN_PER_IP = Limit("login-ip-5m", 60, 300)
# Wrong credentials for one account from one client address. Never per account alone:
# merchant ids are sequential, so a per-account lockout would let anyone lock any merchant
# out of its checkout (API.md, "Input rules").
WRONG_LOGIN_PER_ACCOUNT_AND_IP = Limit("login-wrong-15m", 10, 900)


def _window(limit: Limit, now: datetime) -> tuple[float, datetime]:
    epoch = now.timestamp()
    start_s = math.floor(epoch / limit.window_s) * limit.window_s
    return epoch, datetime.fromtimestamp(start_s, UTC)


def _refusal(limit: Limit, epoch: float, *, window_start: datetime) -> DomainError:
    retry_after = max(1, math.ceil(window_start.timestamp() + limit.window_s - epoch))
    return DomainError(
        ErrorCode.RATE_LIMITED,
        "too many requests, try again later",
        {"retry_after_seconds": retry_after},
        retry_after=retry_after,
    )


async def hit(db: Database | Conn, limit: Limit, *, subject: str, now: datetime) -> None:
    """Count one hit for `subject`; refuse with rate_limited once the window is full."""
    epoch, window_start = _window(limit, now)
    bucket = f"{limit.name}:{subject}"
    hits = await db.fetchval("hit_rate_limit", bucket=bucket, window_start=window_start)
    if hits > limit.max_hits:
        raise _refusal(limit, epoch, window_start=window_start)


async def check(db: Database | Conn, limit: Limit, *, subject: str, now: datetime) -> None:
    """Refuse with rate_limited if `subject`'s window is already full; counts nothing (the
    caller counts with `record` only what the limit is about, e.g. wrong passwords)."""
    epoch, window_start = _window(limit, now)
    bucket = f"{limit.name}:{subject}"
    hits = await db.fetchval("rate_limit_hits", bucket=bucket, window_start=window_start)
    if hits >= limit.max_hits:
        raise _refusal(limit, epoch, window_start=window_start)


async def record(db: Database | Conn, limit: Limit, *, subject: str, now: datetime) -> None:
    _, window_start = _window(limit, now)
    await db.fetchval("hit_rate_limit", bucket=f"{limit.name}:{subject}", window_start=window_start)


async def prune(db: Database | Conn, now: datetime) -> int:
    """Drops windows older than the longest limit; returns how many."""
    status = await db.execute("prune_rate_limits", before=now - timedelta(days=2))
    return int(status.rsplit(" ", 1)[-1])
