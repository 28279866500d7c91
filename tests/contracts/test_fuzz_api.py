"""schemathesis, an outside fuzzer, against a real `festival serve` from the OpenAPI document it
serves: every operation with the token of a role that may call it (bureau, merchant, resident),
valid and invalid input generated from the schemas. No answer may be a 5xx, and every answer
must match what the document declares (status code, content type, headers, body schema);
invalid input must be refused. Bounded to stay well under a minute."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from service.app import all_endpoints
from tests.conftest import create_database, drop_database, with_database
from tests.support.factories import live_batch_body, merchant_body
from tests.support.processes import ROOT, festival_env, serving
from tests.support.tokens import bearer

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    )
)
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
# Operations whose object is named in the body (a voucher code, a target batch): the config
# aims path ids only, so the fuzzer's made-up ones meet 404 there, as they should.
BODY_REFERENCES = {
    "POST /api/v1/merchant/redemptions",
    "POST /api/v1/admin/batches/{id}/recycle",
}
# Operations that exist only under a setting this server runs without (the drill clock's,
# FESTIVAL_DRILL): 404 to every call, as documented.
SETTING_ONLY = {f"{ep.method} {ep.path}" for ep in all_endpoints() if ep.enabled_if is not None}


def starved(report: str) -> set[str]:
    """The operations schemathesis reports as mostly answering 404 ("Missing test data")."""
    if "Missing test data:" not in report:
        return set()
    section = report.split("Missing test data:", 1)[1]
    section = re.split(r"\n(?:Schema validation mismatch|=+)", section, maxsplit=1)[0]
    return set(re.findall(r"^\s+- ((?:GET|POST|PUT|PATCH|DELETE) \S+)", section, re.M))


def _post(base: str, path: str, body: dict, headers: dict[str, str]) -> dict:
    request = urllib.request.Request(  # noqa: S310 (a local URL)
        base + path,
        data=json.dumps(body).encode(),
        headers={**headers, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        return json.loads(resp.read())


def _get(base: str, path: str, headers: dict[str, str]) -> dict:
    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310 (a local URL)
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        return json.loads(resp.read())


def _config(tokens: dict[str, dict[str, str]], paths: dict[str, dict[str, object]]) -> str:
    """schemathesis.toml: each operation sends the token of the first role that may call it,
    and operations on one object get the id of a real one (else they would only meet 404)."""
    lines = []
    for ep in all_endpoints():
        if ep.extra.get("hidden"):
            continue
        name = ep.handler.__name__
        if ep.roles is None and name not in paths:
            continue
        lines += ["[[operations]]", f'include-operation-id = "{name}"']
        if ep.roles is not None:
            role = next(r for r in ("bureau", "merchant", "resident") if r in ep.roles)
            lines.append(f'headers = {{ Authorization = "{tokens[role]["Authorization"]}" }}')
        if name in paths:
            # A bare name is a path parameter; "query.x" names a query parameter.
            values = ", ".join(
                f'"{k if "." in k else "path." + k}" = {json.dumps(v)}'
                for k, v in paths[name].items()
            )
            lines.append(f"parameters = {{ {values} }}")
        lines.append("")
    return "\n".join(lines)


def _seed(base: str, bureau: dict[str, str]) -> tuple[dict[str, dict[str, str]], dict]:
    """A merchant, an open batch, a voucher in the fuzzing resident's wallet and a redemption
    of the merchant's: the tokens and the ids the fuzzer should aim at."""
    shop = _post(base, "/api/v1/admin/merchants", merchant_body(), bureau)
    mid = shop["merchant"]["id"]
    body = live_batch_body(category="shopping", quantity=1000, per_resident_limit=2)
    batch = _post(base, "/api/v1/admin/batches", body, bureau)
    lottery_body = live_batch_body(category="auto", quantity=10, mode="lottery")
    lottery = _post(
        base,
        "/api/v1/admin/batches",
        {**lottery_body, "draw_at": lottery_body["claim_ends_at"]},
        bureau,
    )
    tokens = {
        "bureau": bureau,
        "merchant": bearer("merchant", f"m{mid}", mid),
        "resident": bearer("resident", "fuzz-resident"),
    }
    claim = f"/api/v1/batches/{batch['id']}/claims"
    mine = _post(base, claim, {}, tokens["resident"])
    other = _post(base, claim, {}, bearer("resident", "someone-else"))
    redemption = _post(
        base,
        "/api/v1/merchant/redemptions",
        {"code": other["code"], "order_amount_fen": 12000, "order_ref": "FUZZ-1"},
        {**tokens["merchant"], "Idempotency-Key": "fuzz-seed"},
    )
    bank_file = _post(
        base, "/api/v1/admin/payments/exports", {}, {**bureau, "Idempotency-Key": "fuzz-file"}
    )
    cashier = _post(base, "/api/v1/merchant/cashiers", {"name": "fuzz"}, tokens["merchant"])
    # Another, which the fuzzer's removals leave alone, for pairing codes.
    paired = _post(base, "/api/v1/merchant/cashiers", {"name": "fuzz-2"}, tokens["merchant"])
    together = _post(base, claim, {}, tokens["resident"])
    codes = f"{mine['code']},{together['code']}"
    checkout_qr = _get(base, f"/api/v1/me/checkout-qr?codes={codes}", tokens["resident"])
    paths: dict[str, dict[str, object]] = {
        "export_file": {"id": bank_file["id"]},
        "merchant_statement": {"id": mid},
        "get_merchant": {"id": mid},
        "patch_merchant": {"id": mid},
        "get_batch": {"id": batch["id"]},
        "patch_batch": {"id": batch["id"]},
        "claim": {"id": batch["id"]},
        "wallet_voucher": {"code": mine["code"]},
        "wallet_voucher_qr": {"code": mine["code"]},
        "preview": {"code": mine["qr"]},
        "get_redemption": {"id": redemption["id"]},
        "reverse": {"id": redemption["id"]},
        "enter": {"id": lottery["id"]},
        "draw_record": {"id": lottery["id"]},
        "draw_now": {"id": lottery["id"]},
        "recycle": {"id": batch["id"]},
        "remove_cashier": {"id": cashier["cashier"]["id"]},
        "pair_cashier": {"id": paired["cashier"]["id"]},
        "checkout_qr": {"query.codes": codes},
        "preview_checkout": {"query.qr": checkout_qr["qr"]},
    }
    return tokens, paths


async def _seed_flags(url: str) -> dict[str, dict[str, object]]:
    """An open flag to review and a confirmed one to release, as risk_scan would raise them
    on the seeded redemption (the rules need many redemptions; the fuzzer needs only ids)."""
    conn = await asyncpg.connect(url)
    try:
        redemption = await conn.fetchrow("SELECT id, merchant_id FROM redemptions LIMIT 1")
        ids = {}
        for status in ("open", "confirmed"):
            ids[status] = await conn.fetchval(
                "INSERT INTO risk_flags (merchant_id, rule, date, subject, score, evidence, status,"
                " raised_at, reviewed_at)"
                " VALUES ($1, 'repeat_pair', '2020-05-06', $2, 1, $3::jsonb, $2, now(),"
                " CASE WHEN $2 = 'open' THEN NULL ELSE now() END) RETURNING id",
                redemption["merchant_id"],
                status,
                json.dumps({"redemption_ids": [redemption["id"]]}),
            )
        application = await conn.fetchval(
            "INSERT INTO merchant_applications (name, credit_code, category, district, address,"
            " street, contact_phone, account_name, account_no, submitted_at)"
            " VALUES ('待审核的店', '91370104MA00000131', 'dining', '槐荫区', '营市街1号',"
            " '营市街街道', '13812345678', '待审核的店', '6222020200112233445', now())"
            " RETURNING id"
        )
    finally:
        await conn.close()
    return {
        "review_application": {"id": application},
        "review_flag": {"id": ids["open"]},
        "release_flag": {"id": ids["confirmed"]},
        "flag_timeline": {"id": ids["open"]},
    }


@pytest.fixture
def fuzz_target(server_url: str, template_db: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    import asyncio

    name = asyncio.run(create_database(server_url, "festival_fz", template_db))
    env = festival_env(with_database(server_url, name), tmp_path, FESTIVAL_ACCESS_LOG="false")
    try:
        with serving(env, tmp_path / "serve.log", "--no-scheduler") as server:
            tokens, paths = _seed(server.base, bearer("bureau", "fuzz-ops"))
            paths.update(asyncio.run(_seed_flags(with_database(server_url, name))))
            config = tmp_path / "schemathesis.toml"
            config.write_text(_config(tokens, paths))
            yield server.base, config
            assert "Traceback" not in server.log(), server.log()[-5000:]
    finally:
        asyncio.run(drop_database(server_url, name))


def test_fuzzing_the_openapi_document_finds_no_5xx_and_no_drift(
    fuzz_target: tuple[str, Path], tmp_path: Path
) -> None:
    base, config = fuzz_target
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command is not None, "schemathesis is a dev dependency (pyproject.toml)"
    result = subprocess.run(
        [
            command,
            "--config-file",
            str(config),
            "run",
            f"{base}/api/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            str(MAX_EXAMPLES),
            "--phases",
            "examples,coverage,fuzzing",
            # One worker: Hypothesis describes strategies by parsing their source with ast, which
            # on Python 3.11 is not thread-safe ("AST constructor recursion depth mismatch",
            # CPython gh-106905), and two workers made it fail now and then.
            "--workers",
            "1",
            "--seed",
            "2020",
            "--no-color",
            "--request-timeout",
            "10",
            # Login limits are real: fuzzing them into 429 is expected and documented.
            "--suppress-health-check",
            "all",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    report = result.stdout + result.stderr
    (ROOT / "test-output").mkdir(exist_ok=True)
    (ROOT / "test-output" / "schemathesis.txt").write_text(report)
    assert result.returncode == 0, report[-20000:]
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", report)
    assert selected is not None and selected[1] == selected[2], report[:2000]
    assert int(selected[1]) >= 30, report[:2000]
    assert starved(report) <= BODY_REFERENCES | SETTING_ONLY, report[-5000:]
