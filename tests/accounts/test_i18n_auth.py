"""The sign-in pages and messages read in English (the one catalogue is checked in tests/test_i18n.py)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from zikao.accounts.rules import password_problems


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
