"""Pluggable SMS senders for login codes.

`FESTIVAL_SMS_SENDER=log` (the default) writes the code to the service log, with the phone
masked; `module.path:factory` loads a real gateway's sender, a callable returning an object
with `async send_login_code(phone, code)`.
"""

from __future__ import annotations

import importlib
import logging

from service.domain.logins import SmsSender
from service.domain.phones import mask_phone

log = logging.getLogger("festival.sms")


class LogSmsSender:
    async def send_login_code(self, phone: str, code: str) -> None:
        log.warning(
            "SMS login code for %s: %s (log sender: no SMS was sent)", mask_phone(phone), code
        )


class CapturingSmsSender:
    """Keeps the last code per phone: for tests and the browser tests' sign-in."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}

    async def send_login_code(self, phone: str, code: str) -> None:
        self.codes[phone] = code


def sms_sender_from_setting(value: str) -> SmsSender:
    if value == "log":
        return LogSmsSender()
    module_name, _, factory_name = value.partition(":")
    if not factory_name:
        raise SystemExit(f"FESTIVAL_SMS_SENDER must be 'log' or 'module:factory', got {value!r}")
    factory = getattr(importlib.import_module(module_name), factory_name)
    sender: SmsSender = factory()
    return sender
