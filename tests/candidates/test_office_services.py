"""Record administration services: profile-change decisions, full-ID reveal, password reset, merge."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import CourseFactory, MajorFactory, PlanFactory
from tests.office.conftest import make_staff, offices  # noqa: F401  (fixtures)
from tests.office.test_records_support import BIRTH, NOW, events, major, person, score, sittings
from tests.portal.helpers import TEST_PASSWORD, log_in
from zikao.accounts.errors import LoginFailed
from zikao.accounts.models import ApiToken, CandidateAccount, VerificationCode
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.accounts.rules import first_password
from zikao.accounts.services import (
    candidate_login,
    candidate_number_lookup,
    candidate_password_reset_to_default,
)
from zikao.accounts.session_cache import session_state
from zikao.candidates.models import Candidate, CandidateMajor, ProfileChangeRequest
from zikao.candidates.selectors import merge_plan
from zikao.candidates.services import (
    candidate_full_id_reveal,
    candidate_merge,
    profile_change_request_approve,
    profile_change_request_create,
    profile_change_request_reject,
)
from zikao.conduct.models import Violation
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, NotFound
from zikao.core.identity import make_resident_id
from zikao.core.models import AuditEvent
from zikao.credits.models import Exemption, TransferIn, TransferOut
from zikao.entries.models import Entry
from zikao.graduation.models import Graduation
from zikao.scores.models import Score, ScoreWithholding

pytestmark = pytest.mark.django_db
PUBLIC = Actor.public(ip="198.51.100.9")


@pytest.fixture
def clerk(offices, make_staff):  # noqa: F811
    return Actor.staff(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))


@pytest.fixture
def city_clerk(offices, make_staff):  # noqa: F811
    return Actor.staff(make_staff(roles=(Role.RECORD_CLERK,), office=offices.city))


def _request(candidate, field, value, reason="户口本已更正"):
    return profile_change_request_create(
        actor=Actor.candidate(candidate), candidate=candidate, field=field, new_value=value, reason=reason
    )


def _snapshot(candidate):
    candidate.refresh_from_db()
    return (
        candidate.name,
        candidate.former_name,
        candidate.id_number,
        candidate.birth_date,
        candidate.gender,
    )


# --- profile-change decisions ------------------------------------------------------------------


def test_approve_name_keeps_the_old_name_as_former_name(offices, clerk):  # noqa: F811
    candidate = person(offices.county, seq=1, name="王小明")
    request = _request(candidate, "name", "王晓明")
    with clock.frozen_at(NOW):
        decided = profile_change_request_approve(actor=clerk, request=request, note="核对户口本")
    candidate.refresh_from_db()
    assert (candidate.name, candidate.former_name) == ("王晓明", "王小明")
    assert (decided.status, decided.decided_at, decided.decided_by, decided.decision_note) == (
        "approved",
        NOW,
        clerk.user,
        "核对户口本",
    )
    [event] = events("candidate.profile_change_approved")
    assert event.before == {"field": "name", "name": "王**", "former_name": ""}
    assert event.after == {"field": "name", "status": "approved", "name": "王**", "former_name": "王**"}
    assert event.candidate_id == candidate.pk and event.actor_user_id == clerk.user.pk


def test_approve_id_number_re_derives_birth_date_and_gender(offices, clerk):  # noqa: F811
    candidate = person(offices.county, seq=2)
    new_birth = dt.date(1995, 4, 1)
    new_id = make_resident_id("320102", new_birth, 13)  # 13: odd sequence → male
    request = _request(candidate, "id_number", new_id.lower())
    old_id = candidate.id_number
    profile_change_request_approve(actor=clerk, request=request)
    candidate.refresh_from_db()
    assert (candidate.id_number, candidate.birth_date, candidate.gender) == (new_id, new_birth, "M")
    [event] = events("candidate.profile_change_approved")
    assert event.before == {
        "field": "id_number",
        "id_number": old_id[:6] + "********" + old_id[-4:],
        "birth_date": "1995-03-14",
        "gender": "F",
    }
    assert event.after["id_number"] == new_id[:6] + "********" + new_id[-4:]
    assert (event.after["birth_date"], event.after["gender"]) == ("1995-04-01", "M")
    assert new_id not in str(event.before) + str(event.after) and old_id not in str(event.before)
    # the first password follows the corrected birth date
    assert candidate_login(
        actor=PUBLIC, identifier=candidate.candidate_no, password="19950401"
    ).must_change_password


def test_approve_id_held_by_another_open_record_is_a_merge_case(offices, clerk):  # noqa: F811
    candidate = person(offices.county, seq=3)
    holder = person(offices.county, seq=4, name="王小明")
    request = _request(candidate, "id_number", holder.id_number)
    before = _snapshot(candidate)
    with pytest.raises(DomainError) as exc:
        profile_change_request_approve(actor=clerk, request=request)
    assert exc.value.code == "PROFILE_REQUEST_ID_IN_USE" and exc.value.status == 409
    assert exc.value.fields == {"candidate_no": holder.candidate_no}
    assert "合并" in str(exc.value.message)
    assert _snapshot(candidate) == before
    request.refresh_from_db()
    assert request.status == "requested"
    assert not events("candidate.profile_change_approved")


def test_id_held_out_of_scope_is_not_named(offices, clerk):  # noqa: F811
    candidate = person(offices.county, seq=5)
    holder = person(offices.other_county, seq=6)
    request = _request(candidate, "id_number", holder.id_number)
    with pytest.raises(DomainError) as exc:
        profile_change_request_approve(actor=clerk, request=request)
    assert exc.value.code == "PROFILE_REQUEST_ID_IN_USE"
    assert exc.value.fields == {}
    assert holder.candidate_no not in str(exc.value.message)


def test_birth_date_contradicting_the_resident_id_is_refused(offices, clerk):  # noqa: F811
    candidate = person(offices.county, seq=7)
    request = _request(candidate, "birth_date", "1995-03-15")
    before = _snapshot(candidate)
    with pytest.raises(DomainError) as exc:
        profile_change_request_approve(actor=clerk, request=request)
    assert exc.value.code == "PROFILE_REQUEST_BIRTH_DATE_CONFLICTS_ID"
    assert _snapshot(candidate) == before


def test_birth_date_of_a_passport_holder_is_corrected(offices, clerk):  # noqa: F811
    candidate = person(offices.county, seq=8, id_type="passport", id_number="E12345678", gender="M")
    request = _request(candidate, "birth_date", "1994-12-31")
    profile_change_request_approve(actor=clerk, request=request)
    candidate.refresh_from_db()
    assert (candidate.birth_date, candidate.id_number, candidate.gender) == (
        dt.date(1994, 12, 31),
        "E12345678",
        "M",
    )
    [event] = events("candidate.profile_change_approved")
    assert (event.before, event.after) == (
        {"field": "birth_date", "birth_date": "1995-03-14"},
        {"field": "birth_date", "status": "approved", "birth_date": "1994-12-31"},
    )


def test_a_decision_is_taken_once(offices, clerk):  # noqa: F811
    candidate = person(offices.county, seq=9, name="王小明")
    request = _request(candidate, "name", "王晓明")
    profile_change_request_approve(actor=clerk, request=request)
    stale = ProfileChangeRequest.objects.get(pk=request.pk)
    stale.status = "requested"  # what a second browser tab still believes
    for decide in (
        lambda: profile_change_request_approve(actor=clerk, request=stale),
        lambda: profile_change_request_reject(actor=clerk, request=stale, reason="重复"),
    ):
        with pytest.raises(DomainError) as exc:
            decide()
        assert exc.value.code == "PROFILE_REQUEST_ALREADY_DECIDED" and exc.value.status == 409
    candidate.refresh_from_db()
    assert (candidate.name, candidate.former_name) == ("王晓明", "王小明")
    assert len(events("candidate.profile_change_approved")) == 1
    assert not events("candidate.profile_change_rejected")


def test_reject_needs_a_reason_and_leaves_the_record_alone(offices, clerk):  # noqa: F811
    candidate = person(offices.county, seq=10)
    request = _request(candidate, "name", "王晓明")
    before = _snapshot(candidate)
    for reason in ("", "   ", "x" * 501):
        with pytest.raises(DomainError) as exc:
            profile_change_request_reject(actor=clerk, request=request, reason=reason)
        assert exc.value.code == "PROFILE_REQUEST_DECISION_REASON_REQUIRED"
    request.refresh_from_db()
    assert request.status == "requested" and not events("candidate.profile_change_rejected")
    profile_change_request_reject(actor=clerk, request=request, reason=" 材料不全 ")
    request.refresh_from_db()
    assert (request.status, request.decision_note, request.decided_by) == ("rejected", "材料不全", clerk.user)
    assert _snapshot(candidate) == before
    [event] = events("candidate.profile_change_rejected")
    assert event.after == {"field": "name", "status": "rejected", "reason": "材料不全"}


def test_decisions_need_permission_and_scope(offices, make_staff):  # noqa: F811
    candidate = person(offices.county, seq=11)
    request = _request(candidate, "name", "王晓明")
    viewer = Actor.staff(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    elsewhere = Actor.staff(make_staff(roles=(Role.RECORD_CLERK,), office=offices.sibling_county))
    with pytest.raises(PermissionDenied):
        profile_change_request_approve(actor=viewer, request=request)
    with pytest.raises(NotFound):
        profile_change_request_approve(actor=elsewhere, request=request)
    with pytest.raises(NotFound):
        profile_change_request_reject(actor=elsewhere, request=request, reason="不是本人")
    with pytest.raises(PermissionDenied):
        profile_change_request_approve(actor=Actor.system("cron"), request=request)
    request.refresh_from_db()
    assert request.status == "requested"
    assert (
        not AuditEvent.objects.filter(event_type__startswith="candidate.profile_change_")
        .exclude(event_type="candidate.profile_change_requested")
        .exists()
    )


# --- full ID ------------------------------------------------------------------------------------


def test_full_id_reveal_is_audited_and_needs_the_permission(offices, clerk, make_staff):  # noqa: F811
    candidate = person(offices.county, seq=12)
    assert candidate_full_id_reveal(actor=clerk, candidate=candidate) == candidate.id_number
    [event] = events("record.full_id_viewed")
    assert event.after == {
        "context": "record",
        "id_type": "resident_id",
        "id_number": candidate.id_number[:6] + "********" + candidate.id_number[-4:],
    }
    auditor = Actor.staff(make_staff(roles=(Role.AUDITOR,), office=offices.county))
    with pytest.raises(PermissionDenied):
        candidate_full_id_reveal(actor=auditor, candidate=candidate)
    other = person(offices.sibling_county, seq=13)
    with pytest.raises(NotFound):
        candidate_full_id_reveal(actor=clerk, candidate=other)
    assert len(events("record.full_id_viewed")) == 1


# --- password back to the birth date ------------------------------------------------------------


def test_password_reset_to_default(offices, clerk, client):  # noqa: F811
    candidate = person(offices.county, seq=14)
    log_in(client, candidate)  # own password set, a live session
    account = CandidateAccount.objects.get(candidate=candidate)
    account.locked_until, account.failed_count = clock.now() + dt.timedelta(minutes=10), 3
    account.save()
    ApiToken.objects.create(
        candidate=candidate,
        key_digest="a" * 64,
        session_epoch=account.session_epoch,
        created_at=clock.now(),
        expires_at=clock.now() + dt.timedelta(hours=1),
    )
    epoch = account.session_epoch
    candidate_password_reset_to_default(actor=clerk, candidate=candidate)
    account.refresh_from_db()
    assert (
        account.password_hash,
        account.must_change_password,
        account.failed_count,
        account.locked_until,
    ) == (
        "",
        True,
        0,
        None,
    )
    assert account.session_epoch == epoch + 1
    assert ApiToken.objects.get(key_digest="a" * 64).revoked_at is not None
    assert client.get(reverse("portal:scores")).status_code == 302  # the old session has ended
    with pytest.raises(LoginFailed):
        candidate_login(actor=PUBLIC, identifier=candidate.candidate_no, password=TEST_PASSWORD)
    result = candidate_login(actor=PUBLIC, identifier=candidate.candidate_no, password=first_password(BIRTH))
    assert result.must_change_password is True
    [event] = events("account.password_reset_by_office")
    assert event.before == {
        "first_password_in_force": False,
        "must_change_password": False,
        "locked": True,
        "session_epoch": epoch,
    }
    assert event.after == {
        "first_password_in_force": True,
        "must_change_password": True,
        "locked": False,
        "session_epoch": epoch + 1,
        "tokens_revoked": 1,
    }


def test_password_reset_refusals_change_nothing(offices, make_staff, clerk):  # noqa: F811
    candidate = person(offices.county, seq=15)
    viewer = Actor.staff(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    elsewhere = Actor.staff(make_staff(roles=(Role.RECORD_CLERK,), office=offices.other_city))
    with pytest.raises(PermissionDenied):
        candidate_password_reset_to_default(actor=viewer, candidate=candidate)
    with pytest.raises(NotFound):
        candidate_password_reset_to_default(actor=elsewhere, candidate=candidate)
    survivor = person(offices.county, seq=16)
    merged = person(offices.county, seq=17, status="merged", merged_into=survivor)
    with pytest.raises(DomainError) as exc:
        candidate_password_reset_to_default(actor=clerk, candidate=merged)
    assert exc.value.code == "PASSWORD_RESET_RECORD_CLOSED" and exc.value.status == 409
    assert not CandidateAccount.objects.exists()
    assert not events("account.password_reset_by_office")


# --- merge --------------------------------------------------------------------------------------


def _pair(offices, **closed_kwargs):  # noqa: F811
    """Survivor in the county (18-digit ID), closed record in the sibling county with the old
    15-digit card of the same person (a legacy import)."""
    survivor = person(offices.county, seq=21)
    old_card = survivor.id_number[:6] + survivor.id_number[8:17]
    closed = person(
        offices.sibling_county, seq=0, id_number=old_card, gender=survivor.gender, **closed_kwargs
    )
    return survivor, closed


def _counts(candidate):
    return {
        "scores": Score.objects.filter(candidate=candidate).count(),
        "entries": Entry.objects.filter(candidate=candidate).count(),
        "majors": CandidateMajor.objects.filter(candidate=candidate).count(),
        "violations": Violation.objects.filter(candidate=candidate).count(),
        "exemptions": Exemption.objects.filter(candidate=candidate).count(),
        "requests": ProfileChangeRequest.objects.filter(candidate=candidate).count(),
    }


def test_merge_moves_every_row_and_closes_the_old_number(offices, city_clerk, client):  # noqa: F811
    s202604, s202610, s202704 = sittings()
    survivor, closed = _pair(offices)
    shared_major = major(survivor)
    kept_major = major(closed, plan=shared_major.plan)
    other_plan = PlanFactory(major=MajorFactory(code="120203K", name="会计学"))
    moved_major = major(closed, plan=other_plan)
    survivor_score = score(survivor, s202604, value=88)
    first = score(closed, s202604, value=55)  # the same sitting, another course: no conflict
    Score.objects.filter(pk=first.pk).update(is_current=False)
    corrected = Score.objects.create(
        candidate=closed,
        course=first.course,
        sitting=s202604,
        entry=first.entry,
        value=61,
        supersedes=first,
        correction_reason="复查加分",
        created_at=NOW,
    )
    later = score(closed, s202610, value=70)
    pending_entry = Entry.objects.create(
        candidate=closed, sitting=s202704, course=CourseFactory(), area=offices.sibling_county, created_at=NOW
    )
    exemption = Exemption.objects.create(
        candidate=closed, basis="certificate", basis_detail="CET-4 512", status="approved", requested_at=NOW
    )
    exemption_score = Score.objects.create(
        candidate=closed,
        course=CourseFactory(code="00015"),
        method="exemption",
        value=None,
        grade="合格",
        created_at=NOW,
    )
    transfer_out = TransferOut.objects.create(
        candidate=closed, to_province="浙江", status="rejected", requested_at=NOW
    )
    transfer_in = TransferIn.objects.create(
        candidate=closed,
        from_province="安徽",
        from_candidate_no="341122300001",
        arrived_on=dt.date(2024, 1, 1),
    )
    violation = Violation.objects.create(
        candidate=closed,
        sitting=s202604,
        course=first.course,
        kind="rule_breach",
        penalty="void_course",
        decided_at=NOW,
    )
    withholding = ScoreWithholding.objects.create(
        candidate=closed, sitting=s202610, reason="待查", created_at=NOW, created_by=city_clerk.user
    )
    graduation = Graduation.objects.create(
        candidate=closed,
        major=other_plan.major,
        plan=other_plan,
        certificate_no="65320102261000017",
        graduated_on=dt.date(2026, 6, 30),
        verification_code="K7M2Q9P4X8",
    )
    decided = ProfileChangeRequest.objects.create(
        candidate=closed,
        field="name",
        old_value="王**",
        new_value="王晓明",
        reason="x",
        status="rejected",
        requested_at=NOW,
    )
    log_in(client, closed)
    account = CandidateAccount.objects.get(candidate=closed)
    token = ApiToken.objects.create(
        candidate=closed,
        key_digest="b" * 64,
        session_epoch=account.session_epoch,
        created_at=NOW,
        expires_at=clock.now() + dt.timedelta(hours=1),
    )
    code = VerificationCode.objects.create(
        candidate=closed,
        purpose="password_reset",
        challenge_digest="c" * 64,
        code_hash="d" * 64,
        phone="13800000000",
        created_at=clock.now(),
        expires_at=clock.now() + dt.timedelta(minutes=5),
    )
    epoch = account.session_epoch

    plan = merge_plan(survivor, closed)
    assert plan.can_apply and plan.person_problems == [] and plan.conflicts == []
    with clock.frozen_at(NOW):
        result = candidate_merge(
            actor=city_clerk, survivor=survivor, closed=closed, fingerprint=plan.fingerprint
        )

    closed.refresh_from_db()
    assert (closed.status, closed.merged_into_id) == ("merged", survivor.pk)
    moved_scores = [first, corrected, later, exemption_score]
    assert set(Score.objects.filter(candidate=survivor).values_list("pk", flat=True)) == {
        survivor_score.pk,
        *(s.pk for s in moved_scores),
    }
    assert Score.objects.get(pk=corrected.pk).supersedes_id == first.pk  # the history moves whole
    assert set(Entry.objects.filter(candidate=survivor).values_list("pk", flat=True)) == {
        survivor_score.entry_id,
        first.entry_id,
        later.entry_id,
        pending_entry.pk,
    }
    for row in (
        exemption,
        transfer_out,
        transfer_in,
        violation,
        withholding,
        graduation,
        decided,
        moved_major,
    ):
        row.refresh_from_db()
        assert row.candidate_id == survivor.pk, row
    kept_major.refresh_from_db()
    assert kept_major.candidate_id == closed.pk  # the survivor already has that major: history
    assert _counts(closed) == {
        "scores": 0,
        "entries": 0,
        "majors": 1,
        "violations": 0,
        "exemptions": 0,
        "requests": 0,
    }
    # the closed number's sign-in is over
    account.refresh_from_db()
    token.refresh_from_db()
    code.refresh_from_db()
    assert account.session_epoch == epoch + 1 and account.candidate_id == closed.pk
    assert token.revoked_at == NOW and code.expires_at == NOW
    assert session_state(closed.pk) is None
    assert client.get(reverse("portal:scores")).status_code == 302
    with pytest.raises(LoginFailed):
        candidate_login(actor=PUBLIC, identifier=closed.candidate_no, password=TEST_PASSWORD)
    with pytest.raises(LoginFailed):
        candidate_login(actor=PUBLIC, identifier=closed.candidate_no, password=first_password(BIRTH))
    # number lookup with the person's document gives the surviving number
    found = candidate_number_lookup(
        actor=PUBLIC, id_number=survivor.id_number, name="王小明", pre_registration=False
    )
    assert found.number == survivor.candidate_no
    # the audit trail: one summary event per record, with counts and the ids moved
    [gone] = events("candidate.merged")
    [kept] = events("candidate.merge_received")
    expected_moved = {
        "candidates.candidatemajor": [moved_major.pk],
        "candidates.profilechangerequest": [decided.pk],
        "conduct.violation": [violation.pk],
        "credits.exemption": [exemption.pk],
        "credits.transferin": [transfer_in.pk],
        "credits.transferout": [transfer_out.pk],
        "entries.entry": sorted([first.entry_id, later.entry_id, pending_entry.pk]),
        "graduation.graduation": [graduation.pk],
        "scores.score": sorted(s.pk for s in moved_scores),
        "scores.scorewithholding": [withholding.pk],
    }
    assert result.moved == expected_moved
    assert (gone.candidate_id, gone.subject_id, gone.before) == (
        closed.pk,
        str(closed.pk),
        {"status": "active", "merged_into": None},
    )
    assert gone.after["status"] == "merged" and gone.after["merged_into"] == survivor.candidate_no
    assert gone.after["moved"] == expected_moved
    assert gone.after["counts"] == {label: len(ids) for label, ids in expected_moved.items()}
    assert gone.after["kept"] == {"candidates.candidatemajor": [kept_major.pk]}
    assert (gone.after["tokens_revoked"], gone.after["codes_expired"]) == (1, 1)
    assert kept.candidate_id == survivor.pk
    assert kept.after == {
        "merged_from": closed.candidate_no,
        "counts": gone.after["counts"],
        "moved": expected_moved,
    }


def _assert_nothing_changed(survivor, closed, before):
    closed.refresh_from_db()
    assert (closed.status, closed.merged_into_id) == ("active", None)
    assert (_counts(survivor), _counts(closed)) == before
    assert not AuditEvent.objects.filter(
        event_type__in=["candidate.merged", "candidate.merge_received"]
    ).exists()


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({"name": "王晓明"}, ["NAME_DIFFERS"]),
        ({"birth_date": dt.date(1995, 3, 15)}, ["BIRTH_DATE_DIFFERS"]),
        ({"id_number": make_resident_id("320102", BIRTH, 22)}, ["ID_DIFFERS"]),
    ],
)
def test_merge_refuses_two_different_people(offices, city_clerk, change, reasons):  # noqa: F811
    survivor, closed = _pair(offices)
    Candidate.objects.filter(pk=closed.pk).update(**change)
    closed.refresh_from_db()
    score(closed, sittings()[0])
    before = (_counts(survivor), _counts(closed))
    with pytest.raises(DomainError) as exc:
        candidate_merge(actor=city_clerk, survivor=survivor, closed=closed)
    assert (exc.value.code, exc.value.fields) == ("MERGE_NOT_SAME_PERSON", {"reasons": reasons})
    _assert_nothing_changed(survivor, closed, before)


def test_merge_refuses_the_same_course_and_sitting_on_both(offices, city_clerk):  # noqa: F811
    s202604, *_ = sittings()
    survivor, closed = _pair(offices)
    course = CourseFactory()
    mine = score(survivor, s202604, course=course, value=58)
    theirs = score(closed, s202604, course=course, value=62)
    before = (_counts(survivor), _counts(closed))
    with pytest.raises(DomainError) as exc:
        candidate_merge(actor=city_clerk, survivor=survivor, closed=closed)
    assert exc.value.code == "MERGE_CONFLICTS" and exc.value.status == 409
    conflicts = {(c["table"], c["closed_id"], c["survivor_id"]) for c in exc.value.fields["conflicts"]}
    assert conflicts == {
        ("scores.score", theirs.pk, mine.pk),
        ("entries.entry", theirs.entry_id, mine.entry_id),
    }
    _assert_nothing_changed(survivor, closed, before)


def test_merge_refuses_open_requests_on_the_closed_number(offices, city_clerk):  # noqa: F811
    survivor, closed = _pair(offices)
    _request(closed, "name", "王晓明")
    before = (_counts(survivor), _counts(closed))
    with pytest.raises(DomainError) as exc:
        candidate_merge(actor=city_clerk, survivor=survivor, closed=closed)
    assert exc.value.code == "MERGE_OPEN_REQUESTS"
    _assert_nothing_changed(survivor, closed, before)


def test_merge_refuses_same_record_closed_records_and_stale_previews(offices, city_clerk):  # noqa: F811
    survivor, closed = _pair(offices)
    with pytest.raises(DomainError) as exc:
        candidate_merge(actor=city_clerk, survivor=survivor, closed=survivor)
    assert exc.value.code == "MERGE_SAME_RECORD"
    plan = merge_plan(survivor, closed)
    score(closed, sittings()[0])  # data changed after the preview
    before = (_counts(survivor), _counts(closed))
    with pytest.raises(DomainError) as exc:
        candidate_merge(actor=city_clerk, survivor=survivor, closed=closed, fingerprint=plan.fingerprint)
    assert exc.value.code == "MERGE_PREVIEW_STALE"
    _assert_nothing_changed(survivor, closed, before)
    Candidate.objects.filter(pk=closed.pk).update(status="transferred_out")
    closed.refresh_from_db()
    with pytest.raises(DomainError) as exc:
        candidate_merge(actor=city_clerk, survivor=survivor, closed=closed)
    assert exc.value.code == "MERGE_RECORD_CLOSED"
    assert not events("candidate.merged")


def test_merge_needs_city_level_and_both_records_in_scope(offices, make_staff):  # noqa: F811
    survivor, closed = _pair(offices)
    county = Actor.staff(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    with pytest.raises(PermissionDenied):
        candidate_merge(actor=county, survivor=survivor, closed=closed)
    stranger = person(offices.other_county, seq=0, id_number=closed.id_number, id_type="passport")
    city = Actor.staff(make_staff(roles=(Role.RECORD_CLERK,), office=offices.city))
    with pytest.raises(NotFound):
        candidate_merge(actor=city, survivor=survivor, closed=stranger)
    other_city = Actor.staff(make_staff(roles=(Role.RECORD_CLERK,), office=offices.other_city))
    with pytest.raises(NotFound):
        candidate_merge(actor=other_city, survivor=stranger, closed=closed)
    assert Candidate.objects.filter(status="merged").count() == 0
    assert not events("candidate.merged")


def test_an_id_correction_naming_the_survivor_bridges_the_merge(offices, city_clerk):  # noqa: F811
    survivor = person(offices.county, seq=31)
    typo = make_resident_id("320102", BIRTH, 32)
    closed = person(offices.sibling_county, seq=32, id_number=typo, gender=survivor.gender)
    request = _request(closed, "id_number", survivor.id_number)
    # approving the correction is refused: that document belongs to another open record
    with pytest.raises(DomainError) as exc:
        profile_change_request_approve(actor=city_clerk, request=request)
    assert exc.value.fields == {"candidate_no": survivor.candidate_no}
    plan = merge_plan(survivor, closed)
    assert (plan.person_problems, plan.bridge_request_id, plan.blockers) == ([], request.pk, [])
    with clock.frozen_at(NOW):
        candidate_merge(actor=city_clerk, survivor=survivor, closed=closed, fingerprint=plan.fingerprint)
    request.refresh_from_db()
    assert (request.status, request.candidate_id, request.decided_by, request.decided_at) == (
        "approved",
        survivor.pk,
        city_clerk.user,
        NOW,
    )
    assert request.decision_note == f"已合并至准考证号 {survivor.candidate_no}"
    closed.refresh_from_db()
    assert (closed.status, closed.id_number) == ("merged", typo)


def test_a_row_written_after_the_plan_is_never_left_behind(offices, city_clerk, monkeypatch):  # noqa: F811
    from zikao.candidates import selectors

    survivor, closed = _pair(offices)
    s202604, *_ = sittings()
    real_plan = selectors.merge_plan

    def plan_then_concurrent_write(*args, **kwargs):
        plan = real_plan(*args, **kwargs)
        score(closed, s202604)  # another service records a score between the read and the move
        return plan

    monkeypatch.setattr(selectors, "merge_plan", plan_then_concurrent_write)
    before_survivor = _counts(survivor)
    with pytest.raises(DomainError) as exc:
        candidate_merge(actor=city_clerk, survivor=survivor, closed=closed)
    assert exc.value.code == "MERGE_PREVIEW_STALE"
    closed.refresh_from_db()
    assert (closed.status, closed.merged_into_id) == ("active", None)
    assert _counts(survivor) == before_survivor
    assert not events("candidate.merged")


def test_merge_moves_every_candidate_table_but_sign_in_audit_and_registration():
    from zikao.candidates.selectors import MERGE_NOT_MOVED, candidate_relations

    moved = {model._meta.label_lower for model, _fk in candidate_relations()}
    assert not moved & MERGE_NOT_MOVED
    assert {
        "scores.score",
        "scores.scorewithholding",
        "entries.entry",
        "credits.exemption",
        "credits.transferout",
        "credits.transferin",
        "conduct.violation",
        "candidates.candidatemajor",
        "candidates.profilechangerequest",
        "graduation.graduation",
    } <= moved
