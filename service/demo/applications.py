"""Two businesses waiting for the bureau's answer (商户报名), submitted the day the demo runs:
the bureau's 报名审核 list has something to decide. Drawn from the places generator."""

from __future__ import annotations

from datetime import datetime, timedelta

from service.credit_code import random_huaiyin_code
from service.demo.festival import DemoState
from service.demo.places import place_of
from service.domain import applications

# (name, category, address, hours after midnight it came in)
PENDING = (
    ("老街坊煎饼果子铺", "dining", "振兴街128号", 9.5),
    ("美里湖渔具户外用品店", "shopping", "美里路206号", 11.25),
)


async def pending(demo: DemoState, now: datetime) -> None:
    rng = demo.places_rng
    midnight = now.astimezone(demo.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    for name, category, address, hours in PENDING:
        data = {
            "name": name,
            "category": category,
            "credit_code": random_huaiyin_code(rng),
            "address": f"济南市槐荫区{address}",
            "contact_phone": f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}",
            "account_name": name,
            "account_no": "62284" + "".join(str(rng.randint(0, 9)) for _ in range(14)),
            **place_of(name, category, address, rng),
        }
        # Earlier today, or at the very least a moment before now.
        at = min(midnight + timedelta(hours=hours), now - timedelta(minutes=5))
        async with demo.db.transaction() as tx:
            await applications.submit(tx, data, now=at)
