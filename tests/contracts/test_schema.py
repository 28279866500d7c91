"""The migrated schema holds the invariants as named constraints (the service maps them by name)."""

from __future__ import annotations

import asyncpg
import pytest

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
    "vouchers_code_key",
    "vouchers_person_slot_key",
    "vouchers_within_resident_limit",
    "vouchers_batch_fkey",
    "redemptions_payable_is_difference",
    "idempotency_keys_pkey",
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
        with pytest.raises(asyncpg.CheckViolationError) as refused:
            await conn.execute("UPDATE batches SET claimed = 3 WHERE id = $1", batch_id)
        assert refused.value.constraint_name == "batches_not_oversold"
    finally:
        await conn.close()


async def test_the_ledger_is_append_only(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("INSERT INTO residents (sub) VALUES ('r1')")
        batch_id = await conn.fetchval(
            """
            INSERT INTO batches (category, title, face_value_fen, min_spend_fen, quantity,
                per_resident_limit, claim_starts_at, claim_ends_at, valid_days)
            VALUES ('dining', 't', 1000, 5000, 2, 1, now(), now() + interval '1 day', 7)
            RETURNING id
            """
        )
        voucher_id = await conn.fetchval(
            """
            INSERT INTO vouchers (code, batch_id, per_resident_limit, resident_id, person, slot,
                claimed_at, expires_at)
            VALUES ('C1', $1, 1, (SELECT id FROM residents), 'r:r', 1, now(),
                    now() + interval '1 day')
            RETURNING id
            """,
            batch_id,
        )
        await conn.execute(
            "INSERT INTO voucher_events (voucher_id, batch_id, kind, at) VALUES ($1, $2, 'claimed', now())",
            voucher_id,
            batch_id,
        )
        for statement in (
            "UPDATE voucher_events SET kind = 'expired'",
            "DELETE FROM voucher_events",
        ):
            try:
                await conn.execute(statement)
            except asyncpg.RestrictViolationError as err:
                assert "append-only" in str(err)
            else:
                raise AssertionError(f"{statement} was allowed")
        # A second voucher in the same slot breaks the per-resident limit constraint.
        with pytest.raises(asyncpg.CheckViolationError) as refused:
            await conn.execute(
                """
                INSERT INTO vouchers (code, batch_id, per_resident_limit, resident_id, person, slot,
                    claimed_at, expires_at)
                VALUES ('C2', $1, 1, (SELECT id FROM residents), 'r:r', 2, now(),
                        now() + interval '1 day')
                """,
                batch_id,
            )
        assert refused.value.constraint_name == "vouchers_within_resident_limit"
    finally:
        await conn.close()
