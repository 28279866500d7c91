"""Sign-in: merchants by api key, the bureau by password, residents by SMS code."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from service.auth import (
    api_key_matches,
    hash_api_key,
    hash_password,
    issue_token,
    verify_password,
)
from service.db import Conn, Database
from service.domain import audit, cashiers, merchants, rate_limits
from service.domain.context import Context
from service.domain.phones import PhoneCipher, mask_phone, phone_hash, resident_phone_binding
from service.errors import DomainError, ErrorCode
from service.settings import Settings

OTP_TTL = timedelta(minutes=5)
OTP_MAX_FAILURES = 5
T = TypeVar("T")


class SmsSender(Protocol):
    """An SMS gateway (FESTIVAL_SMS_SENDER; service.sms has the senders): login codes for
    sign-in, and the outbox's messages (service/domain/messages.py), each answered by the
    provider's message id. A sender whose send_message also takes a keyword `key` gets the
    outbox row's key, for the provider to accept each message once (Aliyun's OutId)."""

    async def send_login_code(self, phone: str, code: str) -> None: ...

    async def send_message(self, phone: str, text: str) -> str: ...


async def create_bureau_user(
    ctx: Context,
    username: str,
    *,
    password: str,
) -> bool:
    """A bureau account with this password (slow salted hash); True if it is new, False
    if an existing account's password was reset."""
    password_hash = hash_password(password)
    async with ctx.db.transaction() as tx:
        row = await tx.fetchrow(
            "insert_bureau_user", username=username, password_hash=password_hash
        )
        assert row is not None
        created = bool(row["created"])
        action = "bureau_user.create" if created else "bureau_user.reset_password"
        after = {"username": username}
        await audit.append(
            tx,
            actor=ctx.actor,
            action=action,
            target=f"bureau_users/{username}",
            before=None,
            after=after,
            now=ctx.now,
        )
    return created


def _code_hash(pepper: bytes, hashed_phone: bytes, *, code: str) -> bytes:
    return hmac.new(pepper, hashed_phone + code.encode(), hashlib.sha256).digest()


def person_id(settings: Settings, pepper: bytes, *, phone: str) -> str:
    """The `pid` of whoever holds this phone: HMAC-SHA256 (hex) under the key the city
    identity platform uses (FESTIVAL_PID_KEY), else under the service's phone pepper."""
    key = settings.pid_key.encode() if settings.pid_key else pepper
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignIn:
    """One sign-in attempt: the database, who is asking (client address) and when. Every
    attempt counts toward its address's limit; wrong credentials also count per (account,
    address), never per account alone, so a stranger cannot lock anyone out."""

    db: Database
    settings: Settings
    pepper: bytes  # of the phone hashes
    ip: str
    now: datetime
    # Seals the phone of a resident who signs in by SMS, so messages can reach it.
    phones: PhoneCipher

    async def _guard(self, account: str) -> str:
        await rate_limits.hit(self.db, rate_limits.LOGIN_PER_IP, subject=self.ip, now=self.now)
        wrong = f"{account}@{self.ip}"
        await rate_limits.check(
            self.db, rate_limits.WRONG_LOGIN_PER_ACCOUNT_AND_IP, subject=wrong, now=self.now
        )
        return wrong

    async def _refuse(self, wrong: str, message: str) -> DomainError:
        await rate_limits.record(
            self.db, rate_limits.WRONG_LOGIN_PER_ACCOUNT_AND_IP, subject=wrong, now=self.now
        )
        return DomainError(ErrorCode.UNAUTHORIZED, message)

    def _token(
        self,
        role: str,
        sub: str,
        mid: int | None = None,
        pid: str | None = None,
        *,
        cashier: int | None = None,
    ) -> dict[str, Any]:
        token, ttl = issue_token(
            self.settings, role=role, sub=sub, merchant_id=mid, pid=pid, cashier_id=cashier
        )
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    async def merchant(self, merchant_id: int, api_key: str) -> dict[str, Any]:
        """The merchant's owner signs in with the merchant's api key, one of its live cashiers
        with its own (the token then names the cashier)."""
        wrong = await self._guard(f"m{merchant_id}")
        row = await self.db.fetchrow(
            "merchant_credentials", merchant_id=merchant_id, api_key_hash=hash_api_key(api_key)
        )
        # A suspended merchant may still sign in to see its history; redemption refuses it.
        if api_key_matches(row["api_key_hash"] if row else None, api_key):
            return self._token("merchant", f"merchant:{merchant_id}", merchant_id)
        if row is not None and row["cashier_id"] is not None:
            cashier = row["cashier_id"]
            return self._token(
                "merchant",
                f"merchant:{merchant_id}:cashier:{cashier}",
                merchant_id,
                cashier=cashier,
            )
        raise await self._refuse(wrong, "unknown merchant or wrong api key")

    async def pairing(self, code: str, merchant_id: int | None = None) -> dict[str, Any]:
        """A cashier's device signs in with the pairing code its owner showed (one use, a few
        minutes): that cashier's token. Wrong codes count per address under an account of
        their own, never the owner's: a stranger guessing codes locks nobody's key login."""
        wrong = await self._guard(f"pair{merchant_id or ''}")
        row = await self.db.fetchrow(
            "use_pairing",
            code_hash=cashiers.pairing_code_hash(code),
            merchant_id=merchant_id,
            now=self.now,
        )
        if row is None:
            raise await self._refuse(wrong, "unknown, used or expired pairing code")
        mid, cashier = row["merchant_id"], row["cashier_id"]
        return self._token("merchant", f"merchant:{mid}:cashier:{cashier}", mid, cashier=cashier)

    async def bureau(self, username: str, password: str) -> dict[str, Any]:
        wrong = await self._guard("b" + hashlib.sha256(username.encode()).hexdigest()[:24])
        row = await self.db.fetchrow("bureau_user_by_username", username=username)
        ok = verify_password(row["password_hash"] if row else None, password)
        if not ok or row is None or row["disabled"]:
            raise await self._refuse(wrong, "unknown user or wrong password")
        return self._token("bureau", f"bureau:{row['username']}")

    async def request_code(self, sms: SmsSender, phone: str) -> dict[str, Any]:
        db, now, pepper = self.db, self.now, self.pepper
        hashed = phone_hash(pepper, phone)
        subject = hashed.hex()[:32]
        await rate_limits.hit(db, rate_limits.OTP_PER_IP_HOUR, subject=self.ip, now=now)
        for limit in (
            rate_limits.OTP_PER_PHONE_MINUTE,
            rate_limits.OTP_PER_PHONE_HOUR,
            rate_limits.OTP_PER_PHONE_DAY,
        ):
            await rate_limits.hit(db, limit, subject=subject, now=now)
        code = f"{secrets.randbelow(1_000_000):06d}"
        await db.execute(
            "upsert_otp",
            phone_hash=hashed,
            code_hash=_code_hash(pepper, hashed, code=code),
            now=now,
            expires_at=now + OTP_TTL,
        )
        await sms.send_login_code(phone, code)
        return {
            "expires_in": int(OTP_TTL.total_seconds()),
            "resend_after": rate_limits.OTP_PER_PHONE_MINUTE.window_s,
        }

    async def with_code(self, phone: str, code: str, act: Callable[[Conn], Awaitable[T]]) -> T:
        """What `act` does, in the transaction that spends the phone's pending SMS code when
        `code` is it. Codes are single use, expire in 5 minutes and lock after 5 wrong tries;
        a wrong try is counted (committed), then refused. What `act` raises undoes the
        spending too, so a refused request leaves the code to try again."""
        now, pepper = self.now, self.pepper
        await rate_limits.hit(self.db, rate_limits.LOGIN_PER_IP, subject=self.ip, now=now)
        hashed = phone_hash(pepper, phone)
        async with self.db.transaction() as tx:
            # The row lock makes "check, then count a failure or consume" atomic.
            otp = await tx.fetchrow("lock_otp", phone_hash=hashed)
            if otp is None or otp["consumed_at"] is not None:
                raise DomainError(
                    ErrorCode.UNAUTHORIZED, "no login code is pending; request a new one"
                )
            if otp["failed_attempts"] >= OTP_MAX_FAILURES:
                raise DomainError(
                    ErrorCode.UNAUTHORIZED,
                    "too many wrong codes; request a new one",
                    {"reason": "locked"},
                )
            if now >= otp["expires_at"]:
                raise DomainError(ErrorCode.UNAUTHORIZED, "the code has expired; request a new one")
            if not hmac.compare_digest(otp["code_hash"], _code_hash(pepper, hashed, code=code)):
                failures = await tx.fetchval("otp_failed", phone_hash=hashed)
                left = max(0, OTP_MAX_FAILURES - failures)
                right = False
            else:
                await tx.execute("otp_consumed", phone_hash=hashed, now=now)
                done = await act(tx)
                right = True
        # Raised only after the commit, so the failed attempt is counted.
        if not right:
            raise DomainError(ErrorCode.UNAUTHORIZED, "wrong code", {"attempts_left": left})
        return done

    async def resident(self, phone: str, code: str) -> dict[str, Any]:
        pid = person_id(self.settings, self.pepper, phone=phone)

        async def account(tx: Conn) -> str:
            resident = await tx.fetchrow(
                "upsert_resident_by_phone",
                sub=f"r_{uuid.uuid4().hex}",
                phone_hash=phone_hash(self.pepper, phone),
                phone_masked=mask_phone(phone),
                person=f"p:{pid}",
            )
            assert resident is not None
            # Sealed anew at each sign-in (a fresh nonce, the current key), bound to the row,
            # so a ciphertext moved to another resident does not open.
            await tx.execute(
                "set_resident_phone",
                resident_id=resident["id"],
                phone_enc=self.phones.seal(phone, bound_to=resident_phone_binding(resident["id"])),
            )
            return str(resident["sub"])

        sub = await self.with_code(phone, code, account)
        return self._token("resident", sub, pid=pid)

    async def merchant_key(
        self, ctx: Context, merchant_id: int, *, phone: str, code: str
    ) -> dict[str, Any]:
        """A fresh owner api key for the merchant, to whoever proves its contact phone with an
        SMS code (an approved applicant's first sign-in, or a lost key). A code checked against
        another merchant's phone is spent and counts as a wrong credential from this address."""
        # As _guard, but the address's hit is with_code's.
        wrong = f"k{merchant_id}@{self.ip}"
        await rate_limits.check(
            self.db, rate_limits.WRONG_LOGIN_PER_ACCOUNT_AND_IP, subject=wrong, now=self.now
        )

        async def reissue(tx: Conn) -> str | None:
            return await merchants.reissue_api_key(tx, ctx, merchant_id=merchant_id, phone=phone)

        api_key = await self.with_code(phone, code, reissue)
        if api_key is None:
            raise await self._refuse(wrong, "unknown merchant, or not its contact phone")
        return {"merchant_id": merchant_id, "api_key": api_key}
