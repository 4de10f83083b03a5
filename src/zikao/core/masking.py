"""Masking personal data wherever the full value is not needed (pages, __str__, logs)."""

from __future__ import annotations

import logging
import re


def mask_id_number(number: str | None) -> str:
    """320102********1234 style: first 6 and last 4 kept for an 18-char number (what 学信网 shows)."""
    if not number:
        return ""
    if len(number) >= 15:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    if len(number) > 4:
        return number[:1] + "*" * (len(number) - 3) + number[-2:]
    return "*" * len(number)


def mask_phone(phone: str | None) -> str:
    """138****5678."""
    if not phone:
        return ""
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * len(phone)


def mask_name(name: str | None) -> str:
    """张*, 欧阳** : surname kept, the rest starred (public certificate check)."""
    if not name:
        return ""
    if len(name) == 1:
        return name
    if len(name) >= 4:
        return name[:2] + "*" * (len(name) - 2)
    return name[0] + "*" * (len(name) - 1)


_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def scrub(text: str) -> str:
    """Mask 身份证 and mobile numbers found in free text (log lines, error messages)."""
    text = _ID_RE.sub(lambda m: m.group(1) + "********" + m.group(3)[-4:], text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class PersonalDataLogFilter(logging.Filter):
    """Logging filter: no log line leaves the process with a full ID or phone number."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
