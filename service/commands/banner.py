"""What `make run` prints once it serves: the addresses, tokens to try things with, commands
to paste and the demo's logins."""

from __future__ import annotations

from typing import Any

from service.auth import issue_token
from service.settings import Settings


def newcomer_banner(settings: Settings, base: str, demo: dict[str, Any] | None) -> str:
    hours = settings.access_token_ttl_s // 3600
    bureau, _ = issue_token(settings, role="bureau", sub="bureau:make-run")
    lines = [
        "",
        "春暖槐荫消费节 voucher backend is serving",
        f"  residents:  {base}/            (phone page: sign in with any mobile number)",
        f"  join:       {base}/join        (businesses apply: 商户报名)",
        f"  cashier:    {base}/cashier",
        f"  bureau:     {base}/bureau",
        f"  API:        {base}/api/v1",
        f"  API docs:   {base}/api/docs",
        f"  data:       {settings.data_dir}",
        "",
        f"Tokens to try things with (valid {hours} h); paste these into another terminal:",
        f"  export BUREAU_TOKEN={bureau}",
    ]
    auth = '-H "Authorization: Bearer $BUREAU_TOKEN"'
    examples = [
        "  # the festival's daily numbers as CSV",
        f'  curl -s {auth} "{base}/api/v1/stats/daily?from=2020-05-01&to=2020-05-31&format=csv"'
        " | head",
    ]
    if demo is not None:
        merchant = demo["merchant"]
        resident, _ = issue_token(settings, role="resident", sub="demo-visitor")
        cashier, _ = issue_token(
            settings,
            role="merchant",
            sub=f"merchant:{merchant['merchant_id']}",
            merchant_id=merchant["merchant_id"],
        )
        lines += [
            f"  export RESIDENT_TOKEN={resident}",
            f"  export MERCHANT_TOKEN={cashier}",
        ]
        dining = demo["live_batches"]["dining"]
        examples += [
            "  # claim a voucher of the open dining batch (满50减10) and keep its code",
            f'  CODE=$(curl -s -X POST -H "Authorization: Bearer $RESIDENT_TOKEN" '
            f"{base}/api/v1/batches/{dining}/claims"
            " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"code\"])'); echo $CODE",
            f"  # redeem it at {merchant['name']}: an order of 88.00 yuan",
            '  curl -s -X POST -H "Authorization: Bearer $MERCHANT_TOKEN"'
            ' -H "Idempotency-Key: try-$CODE" -H "Content-Type: application/json"'
            ' -d "{\\"code\\": \\"$CODE\\", \\"order_amount_fen\\": 8800,'
            ' \\"order_ref\\": \\"try-1\\"}"'
            f" {base}/api/v1/merchant/redemptions",
            "  # where that batch's vouchers are taken, nearest to 营市街 first (no token needed)",
            f'  curl -s "{base}/api/v1/merchants?batch_id={dining}&near=36.6580,116.9600&limit=3"',
        ]
    lines += ["", "Try:", *examples, ""]
    if demo is not None:
        lines += [
            f"Demo logins for the pages (also in {settings.data_dir / 'demo-credentials.json'}):",
            f"  bureau page:  {demo['bureau']['username']} / {demo['bureau']['password']}",
            f"  cashier page: merchant id {demo['merchant']['merchant_id']}"
            f" ({demo['merchant']['name']}), api key {demo['merchant']['api_key']}",
            "",
        ]
    lines += [
        "Residents' SMS login codes appear in this log (look for 'SMS login code').",
        "Ctrl-C stops it.",
        "",
    ]
    return "\n".join(lines)
