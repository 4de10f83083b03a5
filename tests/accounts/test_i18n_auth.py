"""The English catalog of the sign-in pages is complete, compiled and used."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

import zikao.accounts
from tests.test_i18n import parse_po, placeholders
from zikao.accounts.rules import password_problems

LC = Path(zikao.accounts.__file__).parent / "locale" / "en" / "LC_MESSAGES"


def test_catalog_complete_and_compiled() -> None:
    entries = [e for e in parse_po(LC / "django.po") if e.msgid]
    assert len(entries) > 100
    with (LC / "django.mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    assert [e.msgid for e in entries if not e.msgstr or catalog.gettext(e.msgid) != e.msgstr] == []
    assert [e.msgid for e in entries if placeholders(e.msgid) != placeholders(e.msgstr)] == []


@pytest.mark.django_db
def test_login_page_in_english() -> None:
    html = Client().get(reverse("portal:login"), headers={"accept-language": "en"}).content.decode()
    assert "<h1>Sign in to your personal space</h1>" in html
    assert "个人空间登录" not in html


def test_policy_message_in_english() -> None:
    with translation.override("en"):
        problems = password_problems("short", birth_date=None, id_number="", candidate_no="")
        assert [str(p.message) for p in problems] == [
            "The password must have at least 8 characters.",
            "The password must contain both letters and digits.",
        ]
