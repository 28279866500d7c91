"""`make chaos` runs end to end in seconds at small scale (an API worker SIGKILLed mid crowd,
PostgreSQL crash-restarted mid checkouts, the primary lost and its standby promoted), so the
chaos run cannot rot, and the invariants it checks hold in every suite run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.chaos.run import ZERO_KEYS

ROOT = Path(__file__).resolve().parents[2]


def test_the_chaos_smoke_run_loses_nothing(tmp_path: Path, server_url: str) -> None:
    output = tmp_path / "chaos.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.chaos.run",
            "--smoke",
            "--output",
            str(output),
            "--database-url",
            server_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
    figures = json.loads(output.read_text())
    for key in ZERO_KEYS:
        assert figures[key] == 0, (key, figures)
    assert figures["failover_acknowledged_lost"] == 0
    scenarios = figures["scenarios"]
    assert set(scenarios) == {"kill_worker_claims", "pg_restart", "failover"}
    # Each fault really happened: a worker holding client connections was killed mid load (its
    # in-flight requests, if any at that instant, are the scenario's no_answer), or requests
    # were refused with 503...
    killed = scenarios["kill_worker_claims"]
    assert killed["victim_connections_at_kill"] > 0 and killed["answered_after_kill"] > 0, killed
    assert killed["worker_restarted"] == 1
    assert scenarios["pg_restart"]["statuses"].get("503", 0) > 0, scenarios["pg_restart"]
    # ...and the service came back by itself within 5 s of the database.
    assert 0 <= figures["pg_restart_recovery_s"] < 5
    assert 0 <= figures["failover_recovery_s"] < 5
