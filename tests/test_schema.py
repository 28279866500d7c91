"""The migrated schema holds the invariants as named constraints (the service maps them by name)."""

from __future__ import annotations

import asyncpg

from service.db import CONSTRAINT_ERRORS

EXPECTED = {
    "batches_not_oversold",
    "batches_claimed_nonnegative",
    "batches_min_spend_covers_face_value",
    "batches_window_order",
    "batches_per_resident_limit_positive",
    "merchants_credit_code_key",
    "merchants_credit_code_format",
    "merchants_status_check",
    "bureau_users_username_key",
    "residents_sub_key",
    "residents_phone_hash_key",
    "otp_codes_attempts_nonnegative",
}


async def constraint_names(db_url: str) -> set[str]:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
        )
    finally:
        await conn.close()
    return {r["conname"] for r in rows}


async def test_invariants_are_named_constraints(db_url: str) -> None:
    names = await constraint_names(db_url)
    assert names >= EXPECTED, EXPECTED - names
    # Every constraint the service maps to an error exists under that name.
    assert set(CONSTRAINT_ERRORS) <= names, set(CONSTRAINT_ERRORS) - names


async def test_the_quota_constraint_holds_even_against_direct_sql(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        batch_id = await conn.fetchval(
            """
            INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity,
                per_resident_limit, claim_starts_at, claim_ends_at, valid_days)
            VALUES ('dining', 't', 1000, 5000, 2, 1, now(), now() + interval '1 day', 7)
            RETURNING id
            """
        )
        try:
            await conn.execute("UPDATE batches SET claimed = 3 WHERE id = $1", batch_id)
        except asyncpg.CheckViolationError as err:
            assert err.constraint_name == "batches_not_oversold"
        else:
            raise AssertionError("oversold batch accepted")
    finally:
        await conn.close()
