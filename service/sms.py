"""Pluggable SMS senders: login codes, and the outbox's messages.

`FESTIVAL_SMS_SENDER=log` (the default) writes them to the service log, with the phone
masked, and sends nothing; `module.path:factory` loads a real gateway's sender, a callable
returning an object with `async send_login_code(phone, code)` and `async send_message(phone,
text) -> str` (the provider's message id). A send_message that also takes a keyword `key`
gets the outbox row's key, which the gateway should use to accept each message once
(Aliyun's OutId): see service/domain/messages.py for what that buys.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from dataclasses import dataclass

from service.domain.logins import SmsSender
from service.domain.phones import mask_phone

log = logging.getLogger("festival.sms")


class LogSmsSender:
    async def send_login_code(self, phone: str, code: str) -> None:
        log.warning(
            "SMS login code for %s: %s (log sender: no SMS was sent)", mask_phone(phone), code
        )

    async def send_message(self, phone: str, text: str, *, key: str | None = None) -> str:
        provider_id = f"log-{key or uuid.uuid4().hex}"
        log.info("SMS %s to %s (log sender: not sent): %s", provider_id, mask_phone(phone), text)
        return provider_id


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str
    key: str | None
    provider_id: str


class CapturingSmsSender:
    """Keeps the last code per phone (for tests and the browser tests' sign-in), and every
    message it accepted, once per key as a gateway with deduplication would. `failing`, when
    set, is raised by every send_message (a provider that is down)."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.messages: list[SentSms] = []
        self.calls = 0
        self.failing: Exception | None = None
        self._by_key: dict[str, str] = {}

    async def send_login_code(self, phone: str, code: str) -> None:
        self.codes[phone] = code

    async def send_message(self, phone: str, text: str, *, key: str | None = None) -> str:
        self.calls += 1
        if self.failing is not None:
            raise self.failing
        if key is not None and key in self._by_key:
            return self._by_key[key]
        provider_id = f"cap-{len(self.messages) + 1}"
        self.messages.append(SentSms(phone, text, key, provider_id))
        if key is not None:
            self._by_key[key] = provider_id
        return provider_id

    def to(self, phone: str) -> list[str]:
        """The texts accepted for `phone`, in order."""
        return [m.text for m in self.messages if m.phone == phone]


def sms_sender_from_setting(value: str) -> SmsSender:
    if value == "log":
        return LogSmsSender()
    module_name, _, factory_name = value.partition(":")
    if not factory_name:
        raise SystemExit(f"FESTIVAL_SMS_SENDER must be 'log' or 'module:factory', got {value!r}")
    factory = getattr(importlib.import_module(module_name), factory_name)
    sender: SmsSender = factory()
    missing = [m for m in ("send_login_code", "send_message") if not hasattr(sender, m)]
    if missing:
        raise SystemExit(f"FESTIVAL_SMS_SENDER {value!r}: its sender has no {', '.join(missing)}")
    return sender
