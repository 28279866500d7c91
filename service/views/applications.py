"""An application as the bureau sees it: the phone and the account number masked."""

from __future__ import annotations

from typing import Any

from service.domain.phones import mask_account, mask_phone
from service.schemas.dump import Computed


def application(row: Any, **computed: Any) -> Computed:
    return Computed(
        row,
        contact_phone=mask_phone(row["contact_phone"]),
        account_no=mask_account(row["account_no"]),
        **computed,
    )
