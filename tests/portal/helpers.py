"""Signing a test client in as a candidate, through the real sign-in services.

from tests.portal.helpers import log_in

def test_my_page(client):
    candidate = CandidateFactory()
    log_in(client, candidate)          # first password already changed to TEST_PASSWORD
    response = client.get(reverse("portal:scores"))
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.test import Client

from zikao.accounts.models import CandidateAccount
from zikao.accounts.rules import first_password
from zikao.accounts.services import candidate_login, candidate_password_change
from zikao.candidates.models import Candidate
from zikao.core.audit import Actor
from zikao.portal.auth import login_session

TEST_PASSWORD = "Kaoshi2026ok"
TEST_IP = "198.51.100.7"


def set_password(candidate: Candidate, password: str = TEST_PASSWORD) -> None:
    """Give the candidate `password` (replacing the first password) through the services."""
    from django.contrib.auth.hashers import check_password

    account = CandidateAccount.objects.filter(candidate=candidate).first()
    if account is not None and account.password_hash and check_password(password, account.password_hash):
        return
    if account is not None and account.password_hash:
        raise AssertionError("the candidate already has another password; pass it to log_in(password=...)")
    candidate_login(
        actor=Actor.public(ip=TEST_IP),
        identifier=candidate.candidate_no,
        password=first_password(candidate.birth_date),
    )
    candidate_password_change(
        actor=Actor.candidate(candidate, ip=TEST_IP),
        candidate=candidate,
        current_password=first_password(candidate.birth_date),
        new_password=password,
    )


def log_in(
    client: Client, candidate: Candidate, *, password: str = TEST_PASSWORD, change_password: bool = True
) -> Candidate:
    """Sign `client` in as `candidate` with the password changed (so every page is open).

    With `change_password=False` the candidate signs in with the first password (birth date)
    and must still change it. Goes through `candidate_login` and `login_session`; no captcha.
    """
    if change_password:
        set_password(candidate, password)
        secret = password
    else:
        secret = first_password(candidate.birth_date)
    result = candidate_login(
        actor=Actor.public(ip=TEST_IP), identifier=candidate.candidate_no, password=secret
    )
    engine = import_module(settings.SESSION_ENGINE)
    request = HttpRequest()
    request.session = client.session if client.session else engine.SessionStore()
    login_session(request, result.candidate)
    request.session.save()
    name = settings.SESSION_COOKIE_NAME
    client.cookies[name] = request.session.session_key
    client.cookies[name].update(
        {
            "max-age": None,
            "path": "/",
            "domain": settings.SESSION_COOKIE_DOMAIN,
            "secure": settings.SESSION_COOKIE_SECURE or None,
            "expires": None,
        }
    )
    return result.candidate


@pytest.fixture
def captcha_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """django-simple-captcha's test mode for one test: the answer "PASSED" is accepted.

    Its settings module reads CAPTCHA_TEST_MODE once at import, so both places are set.
    """
    from captcha.conf import settings as captcha_settings

    monkeypatch.setattr(captcha_settings, "CAPTCHA_TEST_MODE", True)
    monkeypatch.setattr(settings, "CAPTCHA_TEST_MODE", True, raising=False)
