"""The demo's merchants: the festival's places (service/demo/places.py) and the three planted
cash-out merchants (service/demo/cash_out.py), each with its api key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from service.credit_code import random_huaiyin_code
from service.demo import cash_out
from service.demo.festival import DEMO, FIRST_DAY, DemoState
from service.demo.places import MERCHANTS, place_of
from service.domain.context import Context
from service.domain.merchants import create_merchant


async def create(demo: DemoState) -> None:
    for category, places in MERCHANTS.items():
        demo.merchants[category] = []
        for name, address in places:
            body = merchant_body(demo, name, category, address)
            row, api_key = await create_merchant(
                Context(
                    db=demo.db,
                    actor=DEMO,
                    now=demo.at(FIRST_DAY - timedelta(days=10), 9 * 3600),
                    tz=demo.tz,
                ),
                data=body,
            )
            demo.merchants[category].append(row["id"])
            demo.api_keys[row["id"]] = api_key
        # Bigger places see more customers.
        demo.merchant_weights[category] = [
            1 / (i + 1) ** 0.7 for i in range(len(demo.merchants[category]))
        ]
    for kind, (name, category, address, _) in cash_out.PLANTED.items():
        row, api_key = await create_merchant(
            Context(
                db=demo.db,
                actor=DEMO,
                now=demo.at(FIRST_DAY - timedelta(days=10), 9 * 3600),
                tz=demo.tz,
            ),
            data=merchant_body(demo, name, category, address),
        )
        demo.planted[kind] = row["id"]
        demo.api_keys[row["id"]] = api_key
        # Honest customers come too, as to any small shop.
        demo.merchants[category].append(row["id"])
        demo.merchant_weights[category].append(0.1)


def merchant_body(demo: DemoState, name: str, category: str, address: str) -> dict[str, Any]:
    return {
        "name": name,
        "category": category,
        "credit_code": random_huaiyin_code(demo.rng),
        "district": "槐荫区",
        "address": f"济南市槐荫区{address}",
        "contact_phone": f"13{demo.rng.randint(0, 9)}{demo.rng.randint(0, 99999999):08d}",
        "account_name": name,
        "account_no": "62220" + "".join(str(demo.rng.randint(0, 9)) for _ in range(14)),
        **place_of(name, category, address, demo.places_rng),
    }
