"""The chaos client: it sends claims and redemptions as the page and the checkout do (one
Idempotency-Key per tap or checkout, reused on its retry), writes down every request and its
answer, or "no answer", and afterwards reconciles that journal with the database."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from tests.support.tokens import bearer

REQUEST_TIMEOUT_S = 20  # what a patient client waits before it calls an answer lost


@dataclass
class Entry:
    kind: str  # "claim" or "redeem"
    actor: str  # the resident's subject, or the merchant id
    key: str
    target: str  # the batch id, or the voucher code
    status: int | None  # None: no answer (refused, reset, timed out)
    text: str | None
    retry_after: str | None
    sent: float
    elapsed: float
    amount: int = 0

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    @property
    def proper_503(self) -> bool:
        body = self.json() if self.status == 503 else None
        return bool(
            isinstance(body, dict)
            and body.get("error", {}).get("code") == "unavailable"
            and self.retry_after
        )


@dataclass
class Journal:
    session: aiohttp.ClientSession
    entries: list[Entry] = field(default_factory=list)
    _waiting: list[tuple[int, asyncio.Event]] = field(default_factory=list)

    async def answered(self, n: int) -> None:
        """Until `n` requests have been written down (answered or not): the moment to strike."""
        if len(self.entries) < n:
            event = asyncio.Event()
            self._waiting.append((n, event))
            await event.wait()

    async def _send(
        self,
        kind: str,
        actor: str,
        key: str,
        target: str,
        url: str,
        headers: dict[str, str],
        body: Any = None,
        amount: int = 0,
    ) -> Entry:
        sent = time.monotonic()
        status: int | None = None
        text = retry_after = None
        try:
            async with self.session.post(
                url,
                headers={**headers, "Idempotency-Key": key},
                json=body,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            ) as resp:
                text = await resp.text()
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError, ConnectionError):
            pass
        entry = Entry(
            kind,
            actor,
            key,
            target,
            status,
            text,
            retry_after,
            sent,
            time.monotonic() - sent,
            amount,
        )
        self.entries.append(entry)
        for n, event in self._waiting:
            if len(self.entries) >= n:
                event.set()
        return entry

    async def claim(self, base: str, batch_id: int, sub: str, key: str | None = None) -> Entry:
        key = key or uuid.uuid4().hex
        return await self._send(
            "claim",
            sub,
            key,
            str(batch_id),
            f"{base}/api/v1/batches/{batch_id}/claims",
            bearer("resident", sub),
        )

    async def redeem(
        self, base: str, mid: int, code: str, key: str | None = None, amount: int = 8800
    ) -> Entry:
        key = key or uuid.uuid4().hex
        body = {"code": code, "order_amount_fen": amount, "order_ref": f"chaos-{key[:12]}"}
        return await self._send(
            "redeem",
            str(mid),
            key,
            code,
            f"{base}/api/v1/merchant/redemptions",
            bearer("merchant", f"merchant:{mid}", mid),
            body,
            amount,
        )

    async def retry_unanswered(self, base: str) -> None:
        """What the page's 重试 and the checkout's retry do: each request that got no answer
        (or a 503) again, with the same key, until it is answered."""
        for _ in range(10):
            latest = self.latest()
            pending = [e for e in latest.values() if e.status is None or e.status == 503]
            if not pending:
                return
            await asyncio.gather(*(self._again(base, e) for e in pending))
            await asyncio.sleep(0.5)

    async def _again(self, base: str, e: Entry) -> Entry:
        if e.kind == "claim":
            return await self.claim(base, int(e.target), e.actor, e.key)
        return await self.redeem(base, int(e.actor), e.target, e.key, e.amount)

    def latest(self) -> dict[tuple[str, str, str], Entry]:
        """Each (kind, actor, key)'s last entry."""
        out: dict[tuple[str, str, str], Entry] = {}
        for e in self.entries:
            out[(e.kind, e.actor, e.key)] = e
        return out

    def statuses(self) -> Counter[int | None]:
        return Counter(e.status for e in self.entries)

    def bare_5xx(self) -> int:
        """5xx answers that are not a proper 503 unavailable with Retry-After (a 500, a 502
        from a proxy, a 503 without Retry-After)."""
        return sum(
            1 for e in self.entries if e.status is not None and e.status >= 500 and not e.proper_503
        )


async def reconcile(journal: Journal, db_url: str, base: str) -> dict[str, int]:
    """The journal against the database, after every request was answered in the end:
    - acknowledged_lost: a 201 whose voucher or redemption is not in the database;
    - phantom: a voucher or redemption in the database that its client was never answered
      201 for and cannot find (the wallet; the lookup by Idempotency-Key);
    - double_claimed: a tap (one key) that made more than one voucher;
    - replay_mismatch: a retry with the same key and body whose answer differs in a byte."""
    conn = await asyncpg.connect(db_url)
    try:
        vouchers = await conn.fetch(
            "SELECT v.code, r.sub, v.batch_id FROM vouchers v JOIN residents r ON r.id = v.resident_id"
        )
        redemptions = await conn.fetch(
            "SELECT r.id, r.merchant_id, r.idempotency_key, r.status, v.code FROM redemptions r"
            " JOIN vouchers v ON v.id = r.voucher_id"
        )
    finally:
        await conn.close()
    held = {(r["sub"], r["code"]) for r in vouchers}
    lost = phantom = 0
    answered_claims = {
        (e.actor, e.json()["code"])
        for e in journal.entries
        if e.kind == "claim" and e.status == 201
    }
    lost += len(answered_claims - held)
    by_sub: dict[str, set[str]] = {}
    for sub, code in held - answered_claims:
        by_sub.setdefault(sub, set()).add(code)
    for sub, codes in by_sub.items():  # claimed, never answered: the resident finds it
        wallet = await _get(journal, f"{base}/api/v1/me/vouchers", bearer("resident", sub))
        phantom += len(codes - {v["code"] for v in wallet})
    taps = Counter(e.actor for e in journal.latest().values() if e.kind == "claim")
    per_sub = Counter(sub for sub, _ in held if sub in taps)
    double = sum(1 for sub, n in per_sub.items() if n > taps[sub])

    done = {
        (str(r["merchant_id"]), r["idempotency_key"]): r
        for r in redemptions
        if r["status"] == "completed"
    }
    for e in journal.entries:
        if e.kind == "redeem" and e.status == 201 and (e.actor, e.key) not in done:
            lost += 1
    answered_keys = {
        (e.actor, e.key) for e in journal.entries if e.kind == "redeem" and e.status == 201
    }
    for (mid, key), row in done.items():
        if (mid, key) in answered_keys:
            continue
        found = await _get(
            journal,
            f"{base}/api/v1/merchant/redemptions?idempotency_key={key}",
            bearer("merchant", f"merchant:{mid}", int(mid)),
        )
        if [item["id"] for item in found["items"]] != [row["id"]]:
            phantom += 1
    return {
        "acknowledged_lost": lost,
        "phantom": phantom,
        "double_claimed": double,
        "replay_mismatch": await _replays(journal, base),
    }


async def _replays(journal: Journal, base: str) -> int:
    """Every answered key sent once more: the same status and the same bytes."""
    answered = [
        e
        for e in journal.latest().values()
        if e.status in (201, 409) and (e.kind == "redeem" or e.status == 201)
    ]
    replay = Journal(journal.session)
    again = await asyncio.gather(*(replay._again(base, e) for e in answered))
    return sum(
        1
        for first, second in zip(answered, again, strict=True)
        if (first.status, first.text) != (second.status, second.text)
    )


async def _get(journal: Journal, url: str, headers: dict[str, str]) -> Any:
    for _ in range(20):
        try:
            async with journal.session.get(url, headers=headers) as resp:
                if resp.status == 200:
                    return await resp.json()
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError(f"GET {url} never answered 200")
