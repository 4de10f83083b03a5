"""The release hour's logins: what a successful sign-in costs beyond the password hash, and that
trimming it kept every rule (captcha used once, expired captchas refused, the account row locked
and updated, one audit event, the sign-in cache invalidated where it must be)."""

from __future__ import annotations

import datetime as dt

import pytest
from captcha.models import CaptchaStore
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.api.helpers import bearer, token_for
from tests.factories import CandidateFactory
from tests.portal.helpers import TEST_PASSWORD, set_password
from zikao.accounts import session_cache
from zikao.accounts.models import ApiToken, CandidateAccount
from zikao.core import clock
from zikao.core.models import AuditEvent

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 10, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def captcha(client: Client) -> tuple[str, str]:
    key = client.get("/api/auth/captcha").json()["key"]
    return key, CaptchaStore.objects.get(hashkey=key).response


def login(client: Client, identifier: str, password: str, key: str, answer: str):
    body = {"identifier": identifier, "password": password, "captcha_key": key, "captcha_value": answer}
    return client.post("/api/auth/login", body, content_type="application/json")


def test_a_solved_captcha_signs_in_once_and_is_gone(client: Client):
    candidate = CandidateFactory()
    set_password(candidate)
    key, answer = captcha(client)
    first = login(client, candidate.candidate_no, TEST_PASSWORD, key, answer)
    again = login(client, candidate.candidate_no, TEST_PASSWORD, key, answer)
    assert first.status_code == 200 and first.json()["token_type"] == "Bearer"
    assert again.status_code == 400 and again.json()["code"] == "CAPTCHA_INVALID"
    assert not CaptchaStore.objects.filter(hashkey=key).exists()
    assert ApiToken.objects.filter(candidate=candidate).count() == 1


def test_an_expired_captcha_is_refused_and_used_up(client: Client):
    candidate = CandidateFactory()
    set_password(candidate)
    key, answer = captcha(client)
    CaptchaStore.objects.filter(hashkey=key).update(expiration=clock.now() - dt.timedelta(seconds=1))
    before = AuditEvent.objects.count()
    answer_status = login(client, candidate.candidate_no, TEST_PASSWORD, key, answer)
    assert answer_status.status_code == 400 and answer_status.json()["code"] == "CAPTCHA_INVALID"
    assert not CaptchaStore.objects.filter(hashkey=key).exists()
    assert ApiToken.objects.filter(candidate=candidate).count() == 0
    assert AuditEvent.objects.count() == before  # refused before the sign-in service


def test_a_sign_in_is_five_statements_beside_the_hash(client: Client):
    """The captcha (1), the record with its account (1), the account row updated only while not
    locked (1), the token (1) and the audit event (1), in the service's one transaction (a
    savepoint under the test's own transaction). A new statement here costs every candidate of
    the release hour: change the list only on purpose."""
    candidate = CandidateFactory()
    set_password(candidate)
    key, answer = captcha(client)
    logins = AuditEvent.objects.filter(event_type="account.login", candidate=candidate).count()
    with CaptureQueriesContext(connection) as queries:
        response = login(client, candidate.candidate_no, TEST_PASSWORD, key, answer)
    assert response.status_code == 200

    def table(sql: str) -> str:
        if sql.split()[0].upper() in ("SAVEPOINT", "RELEASE"):
            return ""
        for word in sql.replace("(", " ").split():
            if word.startswith('"') and "_" in word and "." not in word:
                return word.strip('"')
        return ""

    done = [(q["sql"].split()[0].upper(), table(q["sql"])) for q in queries.captured_queries]
    assert done == [
        ("DELETE", "captcha_captchastore"),  # the right answer to a live captcha
        ("SELECT", "candidates_candidate"),  # with its account row (select_related)
        ("SAVEPOINT", ""),  # the service's transaction
        ("UPDATE", "accounts_candidateaccount"),  # WHERE not locked at this instant
        ("INSERT", "accounts_apitoken"),
        ("INSERT", "core_auditevent"),
        ("RELEASE", ""),
    ]
    assert '"locked_until" >' in queries.captured_queries[3]["sql"]
    account = CandidateAccount.objects.get(candidate=candidate)
    assert account.failed_count == 0 and account.last_login_at is not None
    assert AuditEvent.objects.filter(event_type="account.login", candidate=candidate).count() == logins + 1


def test_a_lock_set_after_the_read_wins_over_the_right_password(client: Client, monkeypatch):
    """A concurrent sign-in may lock the row between this sign-in's read and its write: the
    conditional UPDATE then matches nothing, and the locking path refuses with the lock."""
    from zikao.accounts import services

    candidate = CandidateFactory()
    set_password(candidate)
    key, answer = captcha(client)
    until = clock.now() + dt.timedelta(minutes=30)
    verify = services._verify

    def verify_then_locked_elsewhere(*args):
        result = verify(*args)
        CandidateAccount.objects.filter(candidate=candidate).update(locked_until=until, failed_count=5)
        return result

    monkeypatch.setattr(services, "_verify", verify_then_locked_elsewhere)
    tokens = ApiToken.objects.filter(candidate=candidate).count()
    last_login = CandidateAccount.objects.get(candidate=candidate).last_login_at
    logins = AuditEvent.objects.filter(event_type="account.login", candidate=candidate).count()
    response = login(client, candidate.candidate_no, TEST_PASSWORD, key, answer)
    assert response.status_code == 423
    assert response.json()["code"] == "ACCOUNT_LOCKED"
    account = CandidateAccount.objects.get(candidate=candidate)
    assert account.locked_until == until and account.failed_count == 5 and account.last_login_at == last_login
    assert ApiToken.objects.filter(candidate=candidate).count() == tokens
    assert AuditEvent.objects.filter(event_type="account.login", candidate=candidate).count() == logins


def test_a_first_sign_in_still_creates_the_account_row(client: Client):
    candidate = CandidateFactory()
    key, answer = captcha(client)
    response = login(client, candidate.candidate_no, candidate.birth_date.strftime("%Y%m%d"), key, answer)
    assert response.status_code == 200 and response.json()["must_change_password"] is True
    account = CandidateAccount.objects.get(candidate=candidate)
    assert account.must_change_password is True and account.password_hash == ""


def test_issuing_a_token_keeps_the_sign_in_cache_and_revoking_one_drops_it(client: Client):
    candidate = CandidateFactory()
    with clock.frozen_at(NOW):
        token = token_for(candidate)
        assert client.get("/api/me/scores/latest", headers=bearer(token)).status_code == 200
        version = cache.get(session_cache._version_key(candidate.pk))
        ApiToken.objects.create(
            candidate=candidate,
            key_digest="0" * 64,
            session_epoch=candidate.account.session_epoch,
            created_at=NOW,
            expires_at=NOW + dt.timedelta(hours=1),
        )
        assert cache.get(session_cache._version_key(candidate.pk)) == version
        issued = ApiToken.objects.get(key_digest="0" * 64)
        issued.revoked_at = NOW
        issued.save(update_fields=["revoked_at"])
        assert cache.get(session_cache._version_key(candidate.pk)) not in (None, version)
        assert client.get("/api/me/scores/latest", headers=bearer(token)).status_code == 200


def test_the_apps_first_request_after_a_sign_in_reads_no_token_row(
    client: Client, django_capture_on_commit_callbacks
):
    candidate = CandidateFactory()
    set_password(candidate)
    key, answer = captcha(client)
    with django_capture_on_commit_callbacks(execute=True):
        token = login(client, candidate.candidate_no, TEST_PASSWORD, key, answer).json()["token"]
    with CaptureQueriesContext(connection) as queries:
        first = client.get("/api/me/sittings", headers=bearer(token))
    assert first.status_code == 200
    assert "accounts_apitoken" not in " ".join(q["sql"] for q in queries.captured_queries)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    revoked = client.get("/api/me/sittings", headers=bearer(token))
    assert revoked.status_code == 401 and revoked.json()["code"] == "TOKEN_INVALID"
