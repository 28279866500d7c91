"""The benchmark runs end to end in seconds with small counts, so `make bench` cannot rot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.load.bench import CORRECTNESS

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "limit_rps",
    "claim_issue_rps",
    "claim_issue_ratio",
    "claim_issue_p99_ms",
    "claim_vs_naive",
    "sellout_s",
    "soldout_rps",
    "soldout_ratio",
    "limit_spread",
    "oversold",
    "over_limit_residents",
    "redeem_rps",
    "redeem_p99_ms",
    "redeem_ratio",
    "double_redeemed",
    "rollup_day_s",
    "rollup_raw_s",
    "rollup_ratio",
    "api_rss_mb",
    "lottery_entries",
    "lottery_draw_s",
    "lottery_draw_rss_mb",
    "risk_scan_s",
    "scale",
    "ledger_verify_s",
    "machine",
}


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (make test installs it)"
)
def test_the_benchmark_smoke_run(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "tests.load.bench", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(output.read_text())
    assert set(figures) >= KEYS, KEYS - set(figures)
    for key in CORRECTNESS:
        assert figures[key] == 0, key
    assert figures["vouchers_issued"] == figures["quantity"]  # the crowd emptied the batch
    assert figures["claim_issue_rps"] > 0 and figures["claim_issue_not_201"] == 0
    assert figures["naive_issue_rps"] > 0
    (curve,) = figures["scale"]  # the smoke run fills 4 days of ×1 only
    assert curve["vouchers"] == 4 * 1100 and curve["redemptions"] == 4 * 950
    assert curve["wallet_p99_ms"] > 0 and curve["summary_p99_ms"] > 0
    # The scale fill stops the bench unless its ledger verifies; the figure is reported.
    assert curve["ledger_verify_s"] == figures["ledger_verify_s"]
    assert figures["machine"]["cores"] and figures["machine"]["postgresql"]
    assert figures["lottery_winners"] == figures["lottery_entries"] // 10 > 0
    assert "issuing ÷ limit" in result.stdout
