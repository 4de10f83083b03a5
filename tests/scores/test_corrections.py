"""Corrections of published scores: request with reason and evidence, approval by a second
person (four-eyes), old version kept, candidate sees the current one."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.helpers import bearer, token_for
from tests.factories import SHANGHAI, CandidateFactory, CourseFactory, ScoreFactory, SittingFactory
from tests.office.conftest import make_staff, offices
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.core.models import AuditEvent
from zikao.scores import rules
from zikao.scores.models import Method, Score, ScoreCorrection
from zikao.scores.selectors import candidate_visible_scores, score_history
from zikao.scores.services import (
    correction_approve,
    correction_evidence_open,
    correction_reject,
    correction_request,
    correction_withdraw,
    score_correct,
    score_record,
)

pytestmark = pytest.mark.django_db
OFFICE_FIXTURES = (offices, make_staff)  # fixtures of tests/office/conftest.py used below
RELEASE = dt.datetime(2026, 5, 10, 15, 0, tzinfo=SHANGHAI)
AFTER = RELEASE + dt.timedelta(days=3)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "private"
    return settings.MEDIA_ROOT


@pytest.fixture
def score(offices):
    sitting = SittingFactory(label="202604", release_at=RELEASE)
    candidate = CandidateFactory(county_office=offices.county)
    return ScoreFactory(
        entry__candidate=candidate,
        entry__sitting=sitting,
        entry__course=CourseFactory(code="02324"),
        value=58,
    )


@pytest.fixture
def requester(offices, make_staff):
    return Actor.staff(make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province, username="zhang"))


@pytest.fixture
def approver(offices, make_staff):
    return Actor.staff(make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province, username="li"))


def request(actor, score, **kw):
    kw.setdefault("new_value", 61)
    kw.setdefault("reason", "复查发现第5题漏计3分")
    kw.setdefault("evidence_note", "复查记录 FC-2026-0012")
    with clock.frozen_at(kw.pop("at", AFTER)):
        return correction_request(actor=actor, score=score, **kw)


def correction_events() -> list[str]:
    return list(
        AuditEvent.objects.filter(event_type__startswith="score.correct")
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- request ----------------------------------------------------------------------------------


def test_request_with_a_note(score, requester):
    correction = request(requester, score)
    assert (
        correction.status,
        correction.score,
        correction.new_value,
        correction.new_grade,
        correction.new_status,
        correction.reason,
        correction.evidence_note,
        correction.evidence_file.name,
        correction.requested_by,
        correction.requested_at,
    ) == (
        "requested",
        score,
        61,
        "",
        "valid",
        "复查发现第5题漏计3分",
        "复查记录 FC-2026-0012",
        "",
        requester.user,
        AFTER,
    )
    score.refresh_from_db()
    assert (score.value, score.is_current) == (58, True)  # nothing applied yet
    assert Score.objects.count() == 1
    event = AuditEvent.objects.get(event_type="score.correction_requested")
    assert (event.candidate_id, event.before, event.after["new_value"]) == (
        score.candidate_id,
        {"value": 58, "grade": "", "status": "valid"},
        61,
    )


def test_request_with_a_file_stores_it_privately_with_its_checksum(score, requester, media):
    upload = SimpleUploadedFile("王小明 复查单.pdf", PDF, content_type="application/pdf")
    correction = request(requester, score, evidence_note="", evidence_file=upload)
    stored = files_in(media)
    assert len(stored) == 1
    assert stored[0].read_bytes() == PDF
    assert stored[0].parent == media / "corrections" / str(dt.date.today().year)
    assert stored[0].suffix == ".pdf" and "王小明" not in stored[0].name and len(stored[0].stem) == 32
    assert correction.evidence_sha256 == hashlib.sha256(PDF).hexdigest()
    assert correction.evidence_file.name == str(stored[0].relative_to(media))


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"reason": "  "}, "CORRECTION_REASON_REQUIRED"),
        ({"evidence_note": " "}, "CORRECTION_EVIDENCE_REQUIRED"),
        ({"new_value": 101}, "SCORE_OUT_OF_RANGE"),
        ({"new_value": None}, "SCORE_MISSING"),
        ({"new_value": None, "new_grade": "良好"}, "SCORE_GRADE_INVALID"),
        ({"new_value": 61, "new_status": "absent"}, "SCORE_ABSENT_HAS_VALUE"),
        ({"new_status": "withheld"}, "CORRECTION_STATUS_INVALID"),
        ({"new_status": "bogus"}, "CORRECTION_STATUS_INVALID"),
        ({"evidence_file": SimpleUploadedFile("a.txt", b"hello")}, "CORRECTION_EVIDENCE_TYPE"),
        ({"evidence_file": SimpleUploadedFile("a.pdf", PNG)}, "CORRECTION_EVIDENCE_TYPE"),
        ({"evidence_file": SimpleUploadedFile("a.pdf", b"")}, "CORRECTION_EVIDENCE_EMPTY"),
    ],
)
def test_invalid_requests_are_refused_and_nothing_is_written(score, requester, media, kw, code):
    with pytest.raises(ValidationFailed) as exc:
        request(requester, score, **kw)
    assert exc.value.code == code
    assert not ScoreCorrection.objects.exists()
    assert correction_events() == []
    assert files_in(media) == []


def test_a_file_over_the_limit_is_refused(score, requester, media, monkeypatch):
    monkeypatch.setattr(rules, "EVIDENCE_MAX_BYTES", 40)
    with pytest.raises(ValidationFailed) as exc:
        request(requester, score, evidence_file=SimpleUploadedFile("a.pdf", PDF + b"x" * 10))
    assert exc.value.code == "CORRECTION_EVIDENCE_TOO_LARGE"
    assert not ScoreCorrection.objects.exists() and files_in(media) == []


def test_before_publication_the_import_path_applies(score, requester):
    with pytest.raises(DomainError) as exc:
        request(requester, score, at=RELEASE - dt.timedelta(microseconds=1))
    assert exc.value.code == "CORRECTION_NOT_PUBLISHED"
    assert not ScoreCorrection.objects.exists() and correction_events() == []
    request(requester, score, at=RELEASE)  # at the instant it is published


def test_unchanged_and_one_open_request_per_score(score, requester, media):
    with pytest.raises(DomainError) as exc:
        request(requester, score, new_value=58)
    assert exc.value.code == "SCORE_CORRECTION_UNCHANGED"
    request(requester, score)
    with pytest.raises(DomainError) as exc:  # double submit, even with a file
        request(requester, score, evidence_file=SimpleUploadedFile("b.pdf", PDF))
    assert exc.value.code == "CORRECTION_ALREADY_OPEN"
    assert ScoreCorrection.objects.count() == 1
    assert files_in(media) == []
    assert correction_events() == ["score.correction_requested"]


def test_credit_without_a_sitting_is_published_once_recorded(requester):
    course = CourseFactory(code="00015")
    candidate = CandidateFactory()
    credit = score_record(
        actor=Actor.system("t"),
        candidate=candidate,
        course=course,
        sitting=None,
        value=60,
        method=Method.EXEMPTION,
    )
    correction = request(requester, credit, new_value=65)
    assert correction.status == "requested"


@pytest.mark.parametrize(
    ("roles", "level"),
    [((Role.READ_ONLY,), "province"), ((Role.SCORE_MANAGER,), "city"), ((Role.RECORD_CLERK,), "province")],
)
def test_request_needs_the_permission_at_province_level(offices, make_staff, score, roles, level):
    user = make_staff(roles=roles, office=getattr(offices, level))
    with pytest.raises(PermissionDenied):
        request(Actor.staff(user), score)
    with pytest.raises(PermissionDenied):
        request(Actor.system("t"), score)
    assert not ScoreCorrection.objects.exists() and correction_events() == []


# --- approve: four-eyes, double submit, history -----------------------------------------------


def test_approval_by_a_second_person_supersedes_and_keeps_history(
    score, requester, approver, client, django_capture_on_commit_callbacks
):
    correction = request(requester, score)
    token = token_for(score.candidate)
    with clock.frozen_at(AFTER):
        assert client.get("/api/me/scores", headers=bearer(token)).json()["scores"][0]["value"] == 58
    with clock.frozen_at(AFTER + dt.timedelta(hours=1)):
        with django_capture_on_commit_callbacks(execute=True):
            approved = correction_approve(actor=approver, correction=correction, note="核对无误")
        api = client.get("/api/me/scores", headers=bearer(token)).json()
        visible = candidate_visible_scores(score.candidate)
    new = approved.result
    assert (approved.status, approved.decided_by, approved.decision_note, approved.decided_at) == (
        "approved",
        approver.user,
        "核对无误",
        AFTER + dt.timedelta(hours=1),
    )
    assert (new.value, new.is_current, new.supersedes_id, new.correction_reason, new.created_by) == (
        61,
        True,
        score.pk,
        "复查发现第5题漏计3分",
        approver.user,
    )
    score.refresh_from_db()
    assert (score.value, score.is_current) == (58, False)  # the old value stays in history
    assert [s.value for s in score_history(score)] == [58, 61]
    assert [(s.value, s.passed) for s in visible] == [(61, True)]
    assert [(s["value"], s["passed"]) for s in api["scores"]] == [(61, True)]  # cache invalidated
    assert correction_events() == [
        "score.correction_requested",
        "score.corrected",
        "score.correction_approved",
    ]


def test_the_requester_cannot_approve_nothing_changes(score, requester):
    correction = request(requester, score)
    with clock.frozen_at(AFTER), pytest.raises(DomainError) as exc:
        correction_approve(actor=requester, correction=correction)
    assert exc.value.code == "CORRECTION_FOUR_EYES"
    correction.refresh_from_db()
    assert (correction.status, correction.decided_by, correction.result) == ("requested", None, None)
    assert list(Score.objects.values_list("value", "is_current")) == [(58, True)]
    assert correction_events() == ["score.correction_requested"]


def test_the_database_refuses_self_approval_too(score, requester):
    from django.db import IntegrityError, transaction

    correction = request(requester, score)
    with pytest.raises(IntegrityError), transaction.atomic():
        ScoreCorrection.objects.filter(pk=correction.pk).update(decided_by=requester.user, decided_at=AFTER)


def test_approving_twice_makes_one_new_version(score, requester, approver, offices, make_staff):
    third = Actor.staff(make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province))
    correction = request(requester, score)
    with clock.frozen_at(AFTER):
        correction_approve(actor=approver, correction=correction)
        for actor in (approver, third):
            with pytest.raises(DomainError) as exc:
                correction_approve(actor=actor, correction=correction)
            assert exc.value.code == "CORRECTION_NOT_OPEN"
        with pytest.raises(DomainError) as exc:
            correction_reject(actor=third, correction=correction, note="晚了")
        assert exc.value.code == "CORRECTION_NOT_OPEN"
    assert sorted(Score.objects.values_list("value", "is_current")) == [(58, False), (61, True)]
    assert correction_events() == [
        "score.correction_requested",
        "score.corrected",
        "score.correction_approved",
    ]


def test_a_chain_of_corrections(score, requester, approver):
    first = request(requester, score)
    with clock.frozen_at(AFTER):
        v2 = correction_approve(actor=approver, correction=first).result
    with pytest.raises(DomainError) as exc:  # the old version can no longer be corrected
        request(approver, score, new_value=62)
    assert exc.value.code == "SCORE_NOT_CURRENT"
    second = request(approver, v2, new_value=63, reason="再次复核")
    with clock.frozen_at(AFTER):
        v3 = correction_approve(actor=requester, correction=second).result  # roles swap: still two people
    score.refresh_from_db()
    assert [(s.value, s.is_current) for s in score_history(score)] == [(58, False), (61, False), (63, True)]
    assert [s.pk for s in score_history(v3)] == [score.pk, v2.pk, v3.pk]
    assert [s.value for s in candidate_visible_scores(score.candidate)] == [63]


def test_approval_after_the_score_changed_elsewhere_is_refused(score, requester, approver):
    correction = request(requester, score)
    with clock.frozen_at(AFTER):
        score_correct(actor=Actor.system("review"), score=score, value=60, reason="复查结果")
        with pytest.raises(DomainError) as exc:
            correction_approve(actor=approver, correction=correction)
    assert exc.value.code == "SCORE_NOT_CURRENT"
    correction.refresh_from_db()
    assert correction.status == "requested"
    assert sorted(Score.objects.values_list("value", flat=True)) == [58, 60]


@pytest.mark.parametrize(
    ("roles", "level"),
    [((Role.READ_ONLY,), "province"), ((Role.SCORE_MANAGER,), "city"), ((Role.CONDUCT_OFFICER,), "province")],
)
def test_approve_and_reject_need_the_permission(offices, make_staff, score, requester, roles, level):
    user = Actor.staff(make_staff(roles=roles, office=getattr(offices, level)))
    correction = request(requester, score)
    with clock.frozen_at(AFTER):
        with pytest.raises(PermissionDenied):
            correction_approve(actor=user, correction=correction)
        with pytest.raises(PermissionDenied):
            correction_reject(actor=user, correction=correction, note="x")
        with pytest.raises(PermissionDenied):
            correction_approve(actor=Actor.system("t"), correction=correction)
    correction.refresh_from_db()
    assert correction.status == "requested" and Score.objects.count() == 1
    assert correction_events() == ["score.correction_requested"]


# --- reject / withdraw ------------------------------------------------------------------------


def test_reject_needs_a_note_and_a_second_person(score, requester, approver):
    correction = request(requester, score)
    with clock.frozen_at(AFTER):
        with pytest.raises(ValidationFailed) as exc:
            correction_reject(actor=approver, correction=correction, note=" ")
        assert exc.value.code == "CORRECTION_NOTE_REQUIRED"
        with pytest.raises(DomainError) as exc:
            correction_reject(actor=requester, correction=correction, note="算了")
        assert exc.value.code == "CORRECTION_FOUR_EYES"
        rejected = correction_reject(actor=approver, correction=correction, note="证据不足")
        with pytest.raises(DomainError) as exc:
            correction_approve(actor=approver, correction=correction)
        assert exc.value.code == "CORRECTION_NOT_OPEN"
    assert (rejected.status, rejected.decided_by, rejected.decision_note, rejected.result) == (
        "rejected",
        approver.user,
        "证据不足",
        None,
    )
    assert list(Score.objects.values_list("value", "is_current")) == [(58, True)]
    assert correction_events() == ["score.correction_requested", "score.correction_rejected"]
    request(requester, score, new_value=60)  # a new request may follow


def test_only_the_requester_withdraws(score, requester, approver):
    correction = request(requester, score)
    with clock.frozen_at(AFTER):
        with pytest.raises(DomainError) as exc:
            correction_withdraw(actor=approver, correction=correction)
        assert exc.value.code == "CORRECTION_NOT_REQUESTER"
        withdrawn = correction_withdraw(actor=requester, correction=correction, note="填错了")
        with pytest.raises(DomainError) as exc:
            correction_withdraw(actor=requester, correction=correction)
        assert exc.value.code == "CORRECTION_NOT_OPEN"
    assert (withdrawn.status, withdrawn.decided_by, withdrawn.decided_at, withdrawn.decision_note) == (
        "withdrawn",
        None,
        AFTER,
        "填错了",
    )
    assert list(Score.objects.values_list("value", "is_current")) == [(58, True)]
    assert correction_events() == ["score.correction_requested", "score.correction_withdrawn"]


# --- evidence ---------------------------------------------------------------------------------


def test_evidence_download_is_audited_and_checked(score, requester, approver, offices, make_staff, media):
    correction = request(requester, score, evidence_file=SimpleUploadedFile("scan.png", PNG))
    with clock.frozen_at(AFTER):
        handle, name = correction_evidence_open(actor=approver, correction=correction)
    with handle:
        assert handle.read() == PNG
    assert name == f"correction-{correction.pk}-evidence.png"
    event = AuditEvent.objects.get(event_type="score.correction_evidence_viewed")
    assert (event.actor_user, event.candidate_id, event.after) == (
        approver.user,
        score.candidate_id,
        {"evidence_sha256": hashlib.sha256(PNG).hexdigest()},
    )
    reader = Actor.staff(make_staff(roles=(Role.READ_ONLY,), office=offices.province))
    with pytest.raises(PermissionDenied):
        correction_evidence_open(actor=reader, correction=correction)
    (media / correction.evidence_file.name).write_bytes(PNG + b"tampered")
    with pytest.raises(DomainError) as exc:
        correction_evidence_open(actor=approver, correction=correction)
    assert exc.value.code == "CORRECTION_EVIDENCE_CORRUPT"
    assert AuditEvent.objects.filter(event_type="score.correction_evidence_viewed").count() == 1


def test_no_file_no_download(score, requester, approver):
    correction = request(requester, score)
    with pytest.raises(NotFound):
        correction_evidence_open(actor=approver, correction=correction)


# --- concurrency (PostgreSQL: real row locks) -------------------------------------------------


def race(*calls):
    """Run the calls at once in threads (each with its own connection); return results/errors."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # the error is the result
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.postgres
def test_two_simultaneous_approvals_make_one_version(
    transactional_db, is_postgres, score, requester, approver
):
    if not is_postgres:
        pytest.skip("PostgreSQL only (SQLite has no row locks)")
    correction = request(requester, score)

    def approve():
        with clock.frozen_at(AFTER):
            return correction_approve(actor=approver, correction=correction)

    results = race(approve, approve)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and getattr(errors[0], "code", None) == "CORRECTION_NOT_OPEN", results
    assert sorted(Score.objects.values_list("value", "is_current")) == [(58, False), (61, True)]
    assert correction_events() == [
        "score.correction_requested",
        "score.corrected",
        "score.correction_approved",
    ]


@pytest.mark.postgres
def test_two_simultaneous_requests_open_one(transactional_db, is_postgres, score, requester, approver):
    if not is_postgres:
        pytest.skip("PostgreSQL only (SQLite has no row locks)")
    results = race(lambda: request(requester, score), lambda: request(approver, score, new_value=62))
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and getattr(errors[0], "code", None) == "CORRECTION_ALREADY_OPEN", results
    assert ScoreCorrection.objects.count() == 1
    assert correction_events() == ["score.correction_requested"]
