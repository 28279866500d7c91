"""A client another team would generate: openapi-python-client (a dev dependency, pinned)
makes a package of the OpenAPI document a real `festival serve` serves, and a fresh Python
that sees only that package (and its runtime dependencies) runs a claim → redeem → stats
round trip with it: a merchant and a batch made by the bureau, a voucher claimed by a
resident, redeemed at the merchant's checkout (signed in with its API key), and the
bureau's festival-to-date summary counting it after the intraday refresh."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import create_database, drop_database, with_database
from tests.support.factories import live_batch_body, merchant_body
from tests.support.processes import festival_env, serving
from tests.support.tokens import bearer

PACKAGE = "huaiyin_festival_voucher_api_client"

# Runs in a Python of its own, with the generated package alone on its path: what it does
# is what the generated code does (typed models, enums, datetimes), nothing of ours.
ROUND_TRIP = """
import datetime, json, sys, time, uuid
from huaiyin_festival_voucher_api_client import AuthenticatedClient, Client
from huaiyin_festival_voucher_api_client.api.audit_bureau import list_audit
from huaiyin_festival_voucher_api_client.api.batches import create_batch
from huaiyin_festival_voucher_api_client.api.jobs_bureau import start_run
from huaiyin_festival_voucher_api_client.api.login import merchant_login
from huaiyin_festival_voucher_api_client.api.merchants_bureau import create_merchant
from huaiyin_festival_voucher_api_client.api.redemption_merchant import redeem
from huaiyin_festival_voucher_api_client.api.stats_bureau import summary
from huaiyin_festival_voucher_api_client.api.vouchers_resident import claim
from huaiyin_festival_voucher_api_client.models import (
    Batch, BatchCategory, BatchCreate, MerchantCreate, MerchantLogin, Redemption,
    RedemptionCreate, RunStarted, Summary, TokenResponse, Voucher,
)

given = json.loads(sys.stdin.read())
base = given["base"]
bureau = AuthenticatedClient(base_url=base, token=given["bureau"])
resident = AuthenticatedClient(base_url=base, token=given["resident"])

made = create_merchant.sync(client=bureau, body=MerchantCreate.from_dict(given["merchant"]))
assert made.__class__.__name__ == "MerchantCreated", made
login = merchant_login.sync(
    client=Client(base_url=base),
    body=MerchantLogin(merchant_id=made.merchant.id, api_key=made.api_key),
)
assert isinstance(login, TokenResponse), login
cashier = AuthenticatedClient(base_url=base, token=login.access_token)

body = BatchCreate.from_dict(given["batch"])
assert isinstance(body.claim_starts_at, datetime.datetime)
body.merchant_ids = [made.merchant.id]
batch = create_batch.sync(client=bureau, body=body)
assert isinstance(batch, Batch), batch
assert batch.category is BatchCategory.DINING
assert batch.claim_ends_at.tzinfo is not None

assert claim.sync.__annotations__["id"] in (int, "int"), claim.sync.__annotations__
voucher = claim.sync(batch.id, client=resident, idempotency_key=uuid.uuid4().hex)
assert isinstance(voucher, Voucher), voucher
assert isinstance(voucher.expires_at, datetime.datetime)

done = redeem.sync(
    client=cashier,
    body=RedemptionCreate(code=voucher.code, order_amount_fen=8800, order_ref="GEN-1"),
    idempotency_key=uuid.uuid4().hex,
)
assert isinstance(done, Redemption), done
assert (done.discount_fen, done.payable_fen) == (1000, 7800)
assert done.category.value == "dining" and done.status.value == "completed"

started = start_run.sync("intraday_refresh", client=bureau)
assert isinstance(started, RunStarted), started
deadline = time.monotonic() + 60
while True:
    totals = summary.sync(client=bureau)
    assert isinstance(totals, Summary), totals
    if totals.overall.vouchers_redeemed == 1 or time.monotonic() > deadline:
        break
    time.sleep(0.2)  # the run is the service's own, in the background
assert totals.overall.vouchers_redeemed == 1, totals.to_dict()
dining = next(c for c in totals.categories if c.category.value == "dining")
assert (dining.vouchers_claimed, dining.subsidy_fen) == (1, 1000), dining.to_dict()
assert isinstance(totals.from_, datetime.date)

# The audit trail's before/after are objects of their own (any keys), not Any.
trail = list_audit.sync(client=bureau, action="batch.create")
entry = trail.items[0]
assert entry.before is None and entry.after["id"] == batch.id, entry.to_dict()
# Downloads through the same client's connection (the typed function parses JSON only).
csv = bureau.get_httpx_client().get("/api/v1/stats/summary", params={"format": "csv"})
assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv"), csv
print("round trip ok")
"""


def _tool(name: str) -> str:
    command = shutil.which(name, path=str(Path(sys.executable).parent))
    assert command is not None, f"{name} is a dev dependency (pyproject.toml)"
    return command


@pytest.fixture
def served(server_url: str, template_db: str, tmp_path: Path) -> Iterator[str]:
    name = asyncio.run(create_database(server_url, "festival_gc", template_db))
    env = festival_env(with_database(server_url, name), tmp_path, FESTIVAL_ACCESS_LOG="false")
    try:
        with serving(env, tmp_path / "serve.log", "--no-scheduler") as server:
            yield server.base
            assert "Traceback" not in server.log(), server.log()[-5000:]
    finally:
        asyncio.run(drop_database(server_url, name))


def test_a_generated_client_claims_redeems_and_reads_the_stats(served: str, tmp_path: Path) -> None:
    out = tmp_path / "generated"
    out.mkdir()
    # text/csv uploads are declared as files; the generator sends such bodies as given
    # once told to treat the media type as bytes (its documented override).
    config = tmp_path / "generator.json"
    config.write_text(
        json.dumps({"content_type_overrides": {"text/csv": "application/octet-stream"}})
    )
    generated = subprocess.run(
        [
            _tool("openapi-python-client"),
            "generate",
            "--url",
            f"{served}/api/openapi.json",
            "--config",
            str(config),
            "--meta",
            "none",
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = generated.stdout + generated.stderr
    assert generated.returncode == 0, report
    # Every operation generated: no endpoint left out, no media type unsupported.
    assert "will not be generated" not in report, report
    assert "Unsupported" not in report, report
    assert (out / PACKAGE / "__init__.py").exists(), sorted(p.name for p in out.iterdir())

    given = {
        "base": served,
        "bureau": bearer("bureau", "gen-ops")["Authorization"].removeprefix("Bearer "),
        "resident": bearer("resident", "gen-resident")["Authorization"].removeprefix("Bearer "),
        "merchant": merchant_body(category="dining"),
        "batch": live_batch_body(quantity=10),
    }
    # -I: no user site, no PYTHONPATH, no current directory: only the generated package
    # (put on the path first) and the environment's installed httpx, attrs and dateutil.
    ran = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(out)!r})\n" + ROUND_TRIP,
        ],
        input=json.dumps(given),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "round trip ok" in ran.stdout
