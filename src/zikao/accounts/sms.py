"""Sending text messages (verification codes) through a pluggable backend.

`settings.ZIKAO_SMS_BACKEND` is the dotted path of a class with `send(phone, text)`. The default,
`LogSmsBackend`, writes the message to the log with the phone masked (the demo has no SMS
gateway) and appends it to `outbox`, which tests read like Django's `mail.outbox`. A province
plugs in its gateway by writing a class with the same method.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from zikao.core.masking import mask_phone

logger = logging.getLogger("zikao.sms")

DEFAULT_BACKEND = "zikao.accounts.sms.LogSmsBackend"


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str


# Messages sent through LogSmsBackend in this process (tests clear it; the demo only appends).
outbox: list[SmsMessage] = []
OUTBOX_MAX = 1000


class SmsBackend(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class LogSmsBackend:
    """Demo backend: the message goes to the log (phone masked) and to `outbox`."""

    def send(self, phone: str, text: str) -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), text)
        outbox.append(SmsMessage(phone=phone, text=text))
        del outbox[:-OUTBOX_MAX]


def get_backend() -> SmsBackend:
    return import_string(getattr(settings, "ZIKAO_SMS_BACKEND", DEFAULT_BACKEND))()


def send_sms(phone: str, text: str) -> None:
    """Send one message now (call it from `transaction.on_commit`, never inside a transaction)."""
    get_backend().send(phone, text)
