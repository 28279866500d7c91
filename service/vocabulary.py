"""The festival's words and limits, declared once: the values a category, a status, a
decision or a rule name may take, and the bounds every input is held to.

Low in the layers on purpose: schemas (validation and the OpenAPI document), views, domain
rules and handlers all read these, and it imports nothing of the service.
"""

from __future__ import annotations

import re
from datetime import date, time

# The four categories of the 春暖槐荫消费节 (names in each language: the categories table).
CATEGORIES = ("shopping", "dining", "culture_tourism", "auto")

VOUCHER_STATUSES = ("active", "redeemed", "expired")
REDEMPTION_STATUSES = ("completed", "reversed")
# Several vouchers in one checkout (API.md): at most this many, of one category; the
# resident's QR code of them is valid this long.
MAX_CHECKOUT_VOUCHERS = 10
CHECKOUT_QR_VALID_S = 600
# A redemption's note from the checkout (branch, till, receipt number), free text.
MAX_METADATA_LENGTH = 1000
# Cashier accounts a merchant may have at once (each a live api key).
MAX_CASHIERS = 50
# A cashier's pairing code (配对码): 8 characters of an alphabet without look-alikes (no 0/O,
# 1/I/L), valid this many seconds and for one sign-in.
PAIRING_CODE_LENGTH = 8
PAIRING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PAIRING_VALID_S = 300

BATCH_STATUSES = ("scheduled", "open", "sold_out", "closed")
FIRST_COME = "first_come"
LOTTERY = "lottery"
BATCH_MODES = (FIRST_COME, LOTTERY)
ENTRY_STATUSES = ("pending", "won", "lost")
DRAW_STATUSES = ("pending", "drawn")

MERCHANT_STATUSES = ("active", "suspended")
# Joining (商户报名): an application's statuses, and the bureau's decisions on one (each
# decision and the status it leaves the application in).
APPLICATION_STATUSES = ("submitted", "approved", "rejected")
APPLICATION_DECISIONS = {"approve": "approved", "reject": "rejected"}
# The public merchant directory: merchants per page, by default and at most.
DIRECTORY_LIMIT = 20
DIRECTORY_MAX_LIMIT = 100
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

# Messages (SMS): what a message is about, where it is in the outbox, why one was not sent.
LOTTERY_RESULT = "lottery_result"
EXPIRY_REMINDER = "expiry_reminder"
APPLICATION_DECISION = "application_decision"
MESSAGE_KINDS = (LOTTERY_RESULT, EXPIRY_REMINDER, APPLICATION_DECISION)
MESSAGE_STATUSES = ("queued", "sending", "sent", "failed", "skipped")
SKIP_REASONS = ("no_phone", "opted_out", "daily_cap")
# An unused voucher is reminded of on the festival days this many days before its expiry day
# (the nearer first: a day's 1-day reminders come due before its 3-day ones, so the daily cap
# keeps the more urgent).
REMINDER_LEAD_DAYS = (1, 3)
# At most this many reminder messages reach a person on a festival day.
REMINDERS_PER_PERSON_DAY = 2
# No message is sent from 21:00 to 08:00 festival time; what falls due then waits for 08:00.
QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)

# A list the bureau may download: as JSON, as CSV, or as an Excel workbook.
FORMATS = ("json", "csv", "xlsx")

# Ten million yuan: far above any festival order, far below int32 overflow in sums per row.
MAX_FEN = 1_000_000_000
# A row id: PostgreSQL's bigint.
MAX_ID = 2**63 - 1
# Every date given: no date arithmetic can overflow and no query scans the year 1.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
# The longest span of days one request may ask for.
MAX_RANGE_DAYS = 366
# One merchant's takings of a day: 1亿元, beyond any merchant of the district.
MAX_DAY_FEN = 10_000_000_000

# C0 and C1 control characters, DEL, and UTF-16 surrogates (a lone one cannot be encoded as
# UTF-8; PostgreSQL text cannot hold NUL). Free text may keep tab and newline.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_FREE_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Invisible format characters that make text read otherwise than it is stored (bidi
# overrides and isolates, zero-width spaces and marks: "Trojan Source", CVE-2021-42574).
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def text_problem(value: str, *, free_text: bool = False) -> str | None:
    """Why `value` may not be stored or echoed as text, or None when it may."""
    pattern = _CONTROL_FREE_TEXT if free_text else _CONTROL
    found = pattern.search(value)
    if found is not None:
        return (
            f"Control characters and unpaired surrogates are not allowed (U+{ord(found[0]):04X})."
        )
    hidden = _INVISIBLE.search(value)
    if hidden is not None:
        return f"Invisible format characters are not allowed (U+{ord(hidden[0]):04X})."
    return None


def printable(value: str) -> str:
    """`value` safe to echo in an error or a log line: controls and surrogates escaped."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", value)
