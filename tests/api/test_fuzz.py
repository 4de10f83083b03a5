"""Schemathesis fuzzing of the JSON API against its own OpenAPI document: never a 5xx.

Every operation the document lists gets schema-conforming (positive) and schema-violating
(negative) requests, once without credentials and once with a real token of a candidate who has
a record with scores. Every answer is below 500; every error answer is the API's
`{"code", "message", "fields"}`. Deterministic (derandomized Hypothesis, no example database)
and bounded: `ZIKAO_FUZZ_EXAMPLES` examples per operation, mode and identity (default 10).
"""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.factories import CandidateFactory, CandidateMajorFactory, EntryFactory, SittingFactory
from zikao.catalog.models import Course, Plan
from zikao.catalog.services import PLANS_DIR, courses_load, plan_file_import
from zikao.core.audit import Actor
from zikao.scores.models import Method
from zikao.scores.services import score_record

EXAMPLES = int(os.environ.get("ZIKAO_FUZZ_EXAMPLES", "10"))
ERROR_KEYS = {"code", "message", "fields"}
SYSTEM = Actor.system("test")
PLAN = "080901_benke_2024"

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", WSGIHandler())
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


def _label(operation) -> str:
    return f"{operation.method.upper()} {operation.path}"


@pytest.fixture
def same_connection():
    """Keep the test's database connection across WSGI requests (as Django's test client does).

    Django closes "old" connections at the start and end of each request; inside the test's
    transaction that would roll the fixtures away.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def candidate():
    """A candidate of the real 080901 (2024) plan with scores in two released sittings, an
    exemption, and an entry in a sitting not released yet (all through the real services)."""
    courses_load(actor=SYSTEM)
    plan_file_import(actor=SYSTEM, text=(PLANS_DIR / f"{PLAN}.toml").read_text("utf-8"), source_name=PLAN)
    plan = Plan.objects.get(major__code="080901", version=2024)
    person = CandidateFactory(name="李明远", phone="13812345678")
    CandidateMajorFactory(candidate=person, plan=plan, registered_on=dt.date(2024, 9, 1))
    sittings = {
        "202510": SittingFactory(label="202510", first_day=dt.date(2025, 10, 18)),
        "202604": SittingFactory(label="202604"),
        "202610": SittingFactory(
            label="202610",
            first_day=dt.date(2026, 10, 24),
            release_at=dt.datetime(2099, 11, 20, 15, 0, tzinfo=dt.UTC),
        ),
    }
    for label, code, value, status in (
        ("202510", "00023", 72, "valid"),
        ("202510", "13013", None, "absent"),
        ("202604", "02324", 45, "valid"),
        ("202604", "13003", 88, "valid"),
        ("202610", "13013", 66, "valid"),
    ):
        course = Course.objects.get(code=code)
        EntryFactory(candidate=person, sitting=sittings[label], course=course)
        score_record(
            actor=SYSTEM, candidate=person, course=course, sitting=sittings[label], value=value, status=status
        )
    score_record(
        actor=SYSTEM,
        candidate=person,
        course=Course.objects.get(code="13000"),
        sitting=None,
        value=60,
        method=Method.EXEMPTION,
    )
    return person


def _token_header(candidate) -> dict[str, str]:
    from tests.api.helpers import token_for

    return {"Authorization": f"Bearer {token_for(candidate)}"}


def _check(case, response) -> None:
    where = f"{case.method.upper()} {case.formatted_path} -> {response.status_code}"
    assert response.status_code < 500, f"{where}\n{case.as_curl_command()}\n{response.content[:500]!r}"
    if response.status_code >= 400:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/json"), f"{where}: {content_type!r}"
        body = json.loads(response.content)
        assert isinstance(body, dict) and set(body) == ERROR_KEYS, f"{where}: {body!r}"
        assert isinstance(body["code"], str) and body["code"], where
        assert isinstance(body["message"], str), where
        assert isinstance(body["fields"], dict), where


def _fuzz(operation, mode: GenerationMode, headers_for) -> list[int]:
    statuses: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(headers=headers_for())
        statuses.append(response.status_code)
        _check(case, response)

    run()
    return statuses


def test_the_document_is_openapi_3():
    assert schema.raw_schema["openapi"].startswith("3.")
    assert schema.raw_schema["info"]["title"] == "zikao API"


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_fuzz_operation(operation, same_connection, candidate):
    """Positive and negative requests, anonymous and with a fresh token of `candidate` each
    (a fresh one per request: the fuzzer may call logout, which revokes the token it used)."""
    authenticated: list[int] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for signed_in, headers_for in ((False, dict), (True, lambda: _token_header(candidate))):
            try:
                statuses = _fuzz(operation, mode, headers_for)
            except Unsatisfiable:
                # Nothing in the operation can be made invalid (no parameters, no body).
                assert mode == GenerationMode.NEGATIVE, _label(operation)
                continue
            if signed_in and mode == GenerationMode.POSITIVE:
                authenticated += statuses
    if operation.method == "get" and operation.path.startswith("/api/me") and "{" not in operation.path:
        # The token is real: the candidate's own reads answer 200.
        assert 200 in authenticated, (_label(operation), authenticated)
