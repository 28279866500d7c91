"""The lottery draw of the benchmark (PERF.md: a million entries for 100,000 vouchers), in a
process of its own so that its memory is measured honestly: this process holds nothing but the
draw, as production's jobs pool does (`lottery.draw` with the real SQL).

    python -m tests.load.lottery_draw DATABASE_URL BATCH_ID

Talks to the benchmark over stdin/stdout, one line each way at a time:
  out `backend PID`  the PostgreSQL backend serving the draw (the pool's only connection)
  in  any line       go (the benchmark samples this process and the backend from now on)
  out {json}         entries, winners, draw_s, client_maxrss_mb (this process's peak RSS)
  in  any line       exit (the benchmark reads the backend's figures before it goes away)
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from service.db import open_database
from service.domain import lottery
from service.domain.audit import Actor
from service.domain.context import Context
from service.settings import Settings


async def main(url: str, batch_id: int) -> None:
    settings = Settings(
        database_url=url,
        data_dir=Path("."),
        jwt_secret="unused-" + "x" * 57,
        tz=ZoneInfo("Asia/Shanghai"),
    )
    # One connection, so the backend announced is the one that draws.
    async with open_database(settings, min_size=1, max_size=1, migrate=False) as db:
        backend = await db.pool.fetchval("SELECT pg_backend_pid()")
        print(f"backend {backend}", flush=True)
        sys.stdin.readline()
        started = time.perf_counter()
        drawn = await lottery.draw(
            Context(db=db, actor=Actor("bench"), now=datetime.now(UTC), tz=settings.tz),
            batch_id=batch_id,
        )
        draw_s = time.perf_counter() - started
        # ru_maxrss: the kernel's high-water mark of this process (KiB on Linux).
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = {
            "entries": drawn.entries,
            "winners": drawn.winners,
            "draw_s": round(draw_s, 3),
            "client_maxrss_mb": round(peak_kib / 1024, 1),
        }
        print(json.dumps(result), flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
