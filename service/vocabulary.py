"""The festival's words and limits, declared once: the values a category, a status, a
decision or a rule name may take, and the bounds every input is held to.

Low in the layers on purpose: schemas (validation and the OpenAPI document), views, domain
rules and handlers all read these, and it imports nothing of the service.
"""

from __future__ import annotations

from datetime import date

# The four categories of the 春暖槐荫消费节 (names in each language: the categories table).
CATEGORIES = ("shopping", "dining", "culture_tourism", "auto")

VOUCHER_STATUSES = ("active", "redeemed", "expired")
REDEMPTION_STATUSES = ("completed", "reversed")

BATCH_STATUSES = ("scheduled", "open", "sold_out", "closed")
FIRST_COME = "first_come"
LOTTERY = "lottery"
BATCH_MODES = (FIRST_COME, LOTTERY)
ENTRY_STATUSES = ("pending", "won", "lost")
DRAW_STATUSES = ("pending", "drawn")

MERCHANT_STATUSES = ("active", "suspended")
SETTLEMENT_STATUSES = ("unsettled", "settled")
ACCOUNT_KINDS = ("unsettled", "payable", "in_transit", "subsidy", "paid")
TRANSFER_KINDS = (
    "redemption",
    "reversal",
    "settlement",
    "clawback",
    "payout",
    "bank_paid",
    "bank_failed",
)
# Why a settled line was left out of a payment run.
LEFT_OUT_REASONS = ("held", "suspended", "no_account", "receivable")
# What the bank's returns file says of each payment.
RETURN_STATUSES = ("paid", "failed")

# Risk: the rules the scan runs, a flag's statuses, and the bureau's decisions on a flag
# (each decision and the status it leaves the flag in).
REPEAT_PAIR = "repeat_pair"
THRESHOLD_HUGGING = "threshold_hugging"
BURST = "burst"
REVERSAL_CHURN = "reversal_churn"
RISK_RULES = (REPEAT_PAIR, THRESHOLD_HUGGING, BURST, REVERSAL_CHURN)
FLAG_STATUSES = ("provisional", "open", "withdrawn", "dismissed", "confirmed")
REVIEW_DECISIONS = {"dismiss": "dismissed", "confirm": "confirmed"}

# A list the bureau may download: as JSON, or as CSV.
FORMATS = ("json", "csv")

# Ten million yuan: far above any festival order, far below int32 overflow in sums per row.
MAX_FEN = 1_000_000_000
# A row id: PostgreSQL's bigint.
MAX_ID = 2**63 - 1
# Every date given: no date arithmetic can overflow and no query scans the year 1.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
# The longest span of days one request may ask for.
MAX_RANGE_DAYS = 366
