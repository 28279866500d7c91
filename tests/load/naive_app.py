"""The naive reference: the textbook claim (lock the batch row, check, insert, decrement, one
transaction per request), with the same token verification, for the same flash crowd.

    python -m tests.load.naive_app PORT DATABASE_URL JWT_SECRET
"""

from __future__ import annotations

import secrets
import sys

import asyncpg
import jwt
from aiohttp import web

from tests.load.bare_app import run

SCHEMA = """
CREATE TABLE IF NOT EXISTS naive_batches (id int PRIMARY KEY, quantity int NOT NULL, claimed int NOT NULL);
CREATE TABLE IF NOT EXISTS naive_vouchers (
    code text PRIMARY KEY, batch_id int NOT NULL, resident text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS naive_vouchers_resident ON naive_vouchers (batch_id, resident);
"""


async def claim(request: web.Request) -> web.Response:
    header = request.headers.get("Authorization", "")
    try:
        claims = jwt.decode(
            header.removeprefix("Bearer "),
            request.app["secret"],
            algorithms=["HS256"],
            audience="festival-api",
            issuer="huaiyin-festival",
        )
    except jwt.PyJWTError:
        return web.json_response({"error": {"code": "unauthorized"}}, status=401)
    batch_id = int(request.match_info["id"])
    async with request.app["pool"].acquire() as conn, conn.transaction():
        batch = await conn.fetchrow(
            "SELECT quantity, claimed FROM naive_batches WHERE id = $1 FOR UPDATE", batch_id
        )
        if batch["claimed"] >= batch["quantity"]:
            return web.json_response({"error": {"code": "sold_out"}}, status=409)
        held = await conn.fetchval(
            "SELECT count(*) FROM naive_vouchers WHERE batch_id = $1 AND resident = $2",
            batch_id,
            claims["sub"],
        )
        if held >= 1:
            return web.json_response({"error": {"code": "limit_reached"}}, status=409)
        code = secrets.token_hex(8)
        await conn.execute(
            "INSERT INTO naive_vouchers (code, batch_id, resident) VALUES ($1, $2, $3)",
            code,
            batch_id,
            claims["sub"],
        )
        await conn.execute("UPDATE naive_batches SET claimed = claimed + 1 WHERE id = $1", batch_id)
    return web.json_response({"code": code}, status=201)


async def startup(app: web.Application) -> None:
    app["pool"] = await asyncpg.create_pool(app["url"], min_size=10, max_size=20)


async def cleanup(app: web.Application) -> None:
    await app["pool"].close()


if __name__ == "__main__":
    app = web.Application()
    app["url"], app["secret"] = sys.argv[2], sys.argv[3]
    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    app.router.add_post("/api/v1/batches/{id}/claims", claim)
    run(app, int(sys.argv[1]))
