"""What the bureau does each morning of the demo: it confirms the first cash-out flag it
believes, exports the day's bank file and books the bank's returns."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from service.demo import cash_out
from service.demo.festival import DEMO, DemoState
from service.domain import payments, risk
from service.domain.context import Context


async def morning(demo: DemoState, day: date) -> None:
    """What the bureau does the morning after `day`: it confirms the first cash-out flag
    it believes, exports the day's bank file and books the bank's returns."""
    flagged_day, after = cash_out.first_hugging_flag_review()
    if day == flagged_day:
        for flag in await risk.flags(
            demo.db, "open", merchant_id=demo.planted["hugging"], rule="threshold_hugging", limit=10
        ):
            await risk.review(
                Context(
                    db=demo.db, actor=DEMO, now=demo.at(day, after.total_seconds()), tz=demo.tz
                ),
                flag_id=flag["id"],
                decision="confirm",
                note="订单金额集中在满减门槛之上，经核实为凑单套现",
            )
    morning = demo.at(day + timedelta(days=1), 9 * 3600)
    made = await payments.export(
        Context(db=demo.db, actor=DEMO, now=morning, tz=demo.tz), key=f"demo-{day.isoformat()}"
    )
    if not made["rows"]:
        return
    demo.bank_files += 1
    content, _ = await payments.file(demo.db, made["id"])
    returned = [
        payments.Return(r["reference"], "paid")
        for r in csv.DictReader(io.StringIO(content.decode()))
    ]
    await payments.apply_returns(
        Context(
            db=demo.db, actor=DEMO, now=demo.at(day + timedelta(days=1), 16 * 3600), tz=demo.tz
        ),
        rows=returned,
    )
