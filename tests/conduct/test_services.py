"""conduct.services: record (penalty, voided scores), apply, appeal, decide, revoke."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conduct.fixtures import NOW, counts, current, state
from tests.factories import SittingFactory
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.conduct import services
from zikao.conduct.models import Violation, ViolationAppeal, ViolationEvent, ViolationScore
from zikao.conduct.selectors import active_suspension, pending_scores, suspension_blocks
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, NotFound
from zikao.core.models import AuditEvent
from zikao.scores.models import Score
from zikao.scores.selectors import candidate_visible_scores, score_history
from zikao.scores.services import score_correct, score_record

D = dt.date
pytestmark = pytest.mark.django_db


def record(w, kind, course=None, actor=None, **kw):
    kw.setdefault("description", "考场内使用手机")
    return services.violation_record(
        actor=actor or w.actor, candidate=w.candidate, sitting=w.sitting, course=course, kind=kind, **kw
    )


def results(w, sitting=None):
    """(course code → (value, status)) of the current results of a sitting."""
    return {
        s.course.code: (s.value, s.status)
        for s in Score.objects.filter(candidate=w.candidate, sitting=sitting or w.sitting, is_current=True)
    }


BEFORE = {
    "00015": (75, "valid"),
    "00023": (58, "valid"),
    "02197": (None, "absent"),
    "02331": (81, "withheld"),
}


# --- recording: each kind, its exact penalty and exactly which results are voided ----------


def test_rule_breach_voids_that_course_only(world):
    v = record(world, "rule_breach", world.courses.A)
    assert (v.kind, v.penalty, v.suspension, v.suspension_years) == ("rule_breach", "void_course", "", None)
    assert (v.suspension_starts, v.suspension_ends) == (None, None)
    assert (v.decided_by, v.decided_by_office, v.decided_at) == (world.officer, world.offices.county, NOW)
    assert results(world) == {**BEFORE, "00015": (None, "void")}
    assert results(world, world.earlier) == {"03708": (88, "valid")}
    void = current(world.candidate, world.courses.A, world.sitting)
    assert void.supersedes_id == world.scores.A.pk
    assert void.correction_reason == f"违规处理（编号{v.pk}，违纪(违反考场规则)）：该科成绩无效"
    assert void.created_by == world.officer
    links = list(ViolationScore.objects.filter(violation=v).values_list("original_id", "voided_id", "state"))
    assert links == [(world.scores.A.pk, void.pk, "held")]
    assert list(v.events.values_list("type", flat=True)) == ["recorded"]
    assert AuditEvent.objects.filter(event_type="violation.recorded", subject_id=str(v.pk)).count() == 1
    assert AuditEvent.objects.filter(event_type="score.corrected").count() == 1
    assert active_suspension(world.candidate) is None


@pytest.mark.parametrize("kind", ["cheating", "serious_cheating", "organised_cheating"])
def test_cheating_kinds_void_every_existing_result_of_the_sitting(world, kind):
    v = record(world, kind)
    assert v.penalty == "void_sitting" and v.course is None
    # A and B (valid) and W (withheld) voided; C absent and untouched; the other sitting untouched.
    assert results(world) == {
        "00015": (None, "void"),
        "00023": (None, "void"),
        "02197": (None, "absent"),
        "02331": (None, "void"),
    }
    assert current(world.candidate, world.courses.C, world.sitting).pk == world.scores.C.pk
    assert results(world, world.earlier) == {"03708": (88, "valid")}
    originals = set(ViolationScore.objects.filter(violation=v).values_list("original_id", flat=True))
    assert originals == {world.scores.A.pk, world.scores.B.pk, world.scores.W.pk}
    assert AuditEvent.objects.filter(event_type="score.corrected").count() == 3


def test_cheating_has_no_suspension(world):
    v = record(world, "cheating")
    assert (v.suspension, v.suspension_years, v.suspension_starts, v.suspension_ends) == (
        "",
        None,
        None,
        None,
    )
    assert active_suspension(world.candidate, on=D(2026, 6, 1)) is None


@pytest.mark.parametrize(
    "kind,years,expected_years,scope,ends",
    [
        ("serious_cheating", None, 1, "zikao", D(2027, 4, 10)),
        ("serious_cheating", 2, 2, "zikao", D(2028, 4, 10)),
        ("serious_cheating", 3, 3, "zikao", D(2029, 4, 10)),
        ("organised_cheating", None, 3, "all_national", D(2029, 4, 10)),
        ("organised_cheating", 1, 1, "all_national", D(2027, 4, 10)),
    ],
)
def test_serious_kinds_suspend_from_the_sittings_first_day(world, kind, years, expected_years, scope, ends):
    v = record(world, kind, suspension_years=years)
    assert (v.suspension, v.suspension_years) == (scope, expected_years)
    assert (v.suspension_starts, v.suspension_ends) == (D(2026, 4, 11), ends)
    assert active_suspension(world.candidate, on=D(2026, 4, 10)) is None
    assert active_suspension(world.candidate, on=D(2026, 4, 11)).violation_id == v.pk
    assert active_suspension(world.candidate, on=ends).ends == ends
    assert active_suspension(world.candidate, on=ends + dt.timedelta(days=1)) is None
    for activity in ("entry", "transfer", "graduation"):
        assert suspension_blocks(world.candidate, activity, on=ends).violation_id == v.pk
        assert suspension_blocks(world.candidate, activity, on=ends + dt.timedelta(days=1)) is None
    assert suspension_blocks(world.candidate, "score_read", on=ends) is None


def test_suspension_blocks_accepts_loaded_violations(world):
    v = record(world, "serious_cheating", suspension_years=2)
    rows = list(Violation.objects.filter(candidate=world.candidate))
    assert suspension_blocks(rows, "entry", on=D(2027, 1, 1)).violation_id == v.pk
    assert suspension_blocks(rows, "entry", on=D(2028, 4, 11)) is None
    assert suspension_blocks([], "entry", on=D(2027, 1, 1)) is None


def test_penalty_given_must_match_kind(world):
    v = record(world, "cheating", penalty="void_sitting")
    assert v.penalty == "void_sitting"


@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"kind": "rule_breach", "course": "A", "penalty": "void_sitting"}, "VIOLATION_PENALTY_MISMATCH"),
        ({"kind": "cheating", "penalty": "void_course"}, "VIOLATION_PENALTY_MISMATCH"),
        ({"kind": "rule_breach"}, "VIOLATION_COURSE_REQUIRED"),
        ({"kind": "cheating", "course": "A"}, "VIOLATION_COURSE_NOT_APPLICABLE"),
        ({"kind": "cheating", "suspension_years": 1}, "VIOLATION_SUSPENSION_NOT_ALLOWED"),
        ({"kind": "rule_breach", "course": "A", "suspension_years": 2}, "VIOLATION_SUSPENSION_NOT_ALLOWED"),
        ({"kind": "serious_cheating", "suspension_years": 0}, "VIOLATION_SUSPENSION_YEARS_INVALID"),
        ({"kind": "serious_cheating", "suspension_years": 4}, "VIOLATION_SUSPENSION_YEARS_INVALID"),
        ({"kind": "organised_cheating", "suspension_years": -1}, "VIOLATION_SUSPENSION_YEARS_INVALID"),
        ({"kind": "bribery"}, "VIOLATION_KIND_INVALID"),
        ({"kind": "cheating", "description": "   "}, "VIOLATION_DESCRIPTION_REQUIRED"),
        ({"kind": "cheating", "description": "x" * 4001}, "VIOLATION_TEXT_TOO_LONG"),
        ({"kind": "rule_breach", "course": "X"}, "VIOLATION_NOT_ENTERED"),
    ],
)
def test_bad_decisions_are_refused_and_nothing_changes(world, kwargs, code):
    kwargs = dict(kwargs)
    course = getattr(world.courses, kwargs.pop("course")) if "course" in kwargs else None
    kind = kwargs.pop("kind")
    before = state()
    with pytest.raises(DomainError) as exc:
        record(world, kind, course, **kwargs)
    assert exc.value.code == code
    assert state() == before


def test_course_entered_but_without_result_can_be_recorded(world):
    v = record(world, "rule_breach", world.courses.D)
    assert v.course == world.courses.D
    assert ViolationScore.objects.filter(violation=v).count() == 0
    assert results(world) == BEFORE


def test_sitting_without_entries_is_refused(world):
    empty = SittingFactory(label="202601", first_day=D(2026, 1, 10))
    before = state()
    with pytest.raises(DomainError) as exc:
        services.violation_record(
            actor=world.actor,
            candidate=world.candidate,
            sitting=empty,
            course=None,
            kind="cheating",
            description="x",
        )
    assert exc.value.code == "VIOLATION_NOT_ENTERED"
    assert state() == before


def test_cancelled_entry_does_not_count_as_entered(world):
    from tests.factories import EntryFactory

    EntryFactory(candidate=world.candidate, sitting=world.sitting, course=world.courses.X, status="cancelled")
    with pytest.raises(DomainError) as exc:
        record(world, "rule_breach", world.courses.X)
    assert exc.value.code == "VIOLATION_NOT_ENTERED"


def test_sitting_not_yet_held_is_refused(world):
    future = SittingFactory(label="202610", first_day=D(2026, 10, 17))
    from tests.factories import EntryFactory

    EntryFactory(candidate=world.candidate, sitting=future, course=world.courses.X)
    before = state()
    with pytest.raises(DomainError) as exc:
        services.violation_record(
            actor=world.actor,
            candidate=world.candidate,
            sitting=future,
            course=None,
            kind="cheating",
            description="x",
        )
    assert exc.value.code == "VIOLATION_SITTING_NOT_HELD"
    assert state() == before


def test_on_the_first_day_of_the_sitting_recording_is_allowed(world):
    with clock.frozen_at(dt.datetime(2026, 4, 11, 9, 30, tzinfo=NOW.tzinfo)):
        v = record(world, "rule_breach", world.courses.A)
    assert v.pk is not None


# --- duplicates ----------------------------------------------------------------------------


def test_same_course_twice_is_refused(world):
    record(world, "rule_breach", world.courses.A)
    before = state()
    with pytest.raises(DomainError) as exc:
        record(world, "rule_breach", world.courses.A)
    assert exc.value.code == "VIOLATION_DUPLICATE"
    assert state() == before


def test_whole_sitting_twice_is_refused(world):
    record(world, "cheating")
    before = state()
    with pytest.raises(DomainError) as exc:
        record(world, "serious_cheating", suspension_years=2)
    assert exc.value.code == "VIOLATION_DUPLICATE"
    assert state() == before


def test_after_revocation_the_same_course_can_be_recorded_again(world):
    v = record(world, "rule_breach", world.courses.A)
    services.violation_revoke(actor=world.actor, violation=v, reason="监考记录有误")
    again = record(world, "rule_breach", world.courses.A)
    assert again.pk != v.pk
    assert results(world)["00015"] == (None, "void")


def test_database_refuses_two_standing_whole_sitting_violations(world):
    from django.db import IntegrityError, transaction

    record(world, "cheating")
    with pytest.raises(IntegrityError), transaction.atomic():
        Violation.objects.create(
            candidate=world.candidate,
            sitting=world.sitting,
            kind="cheating",
            penalty="void_sitting",
            decided_at=NOW,
        )


# --- scope and permission ------------------------------------------------------------------


@pytest.mark.parametrize("office", ["sibling_county", "other_city", "other_county"])
def test_out_of_scope_candidate_is_not_found_and_nothing_changes(world, office):
    outsider = world.make_staff(roles=(Role.CONDUCT_OFFICER,), office=getattr(world.offices, office))
    before = state()
    with pytest.raises(NotFound):
        record(world, "cheating", actor=Actor.staff(outsider))
    assert state() == before


@pytest.mark.parametrize("who", ["city_officer", "province_officer"])
def test_higher_offices_in_scope_may_record(world, who):
    actor = Actor.staff(getattr(world, who))
    v = record(world, "cheating", actor=actor)
    assert v.decided_by_office == getattr(world, who).office


@pytest.mark.parametrize("roles", [(Role.READ_ONLY,), (Role.RECORD_CLERK,), (Role.SCORE_MANAGER,), ()])
def test_without_conduct_record_permission_nothing_is_written(world, roles):
    user = world.make_staff(roles=roles, office=world.offices.province)
    before = state()
    with pytest.raises(PermissionDenied):
        record(world, "cheating", actor=Actor.staff(user))
    assert state() == before


def test_non_staff_actor_is_refused(world):
    before = state()
    with pytest.raises(PermissionDenied):
        record(world, "cheating", actor=Actor.system("cron"))
    with pytest.raises(PermissionDenied):
        record(world, "cheating", actor=Actor.candidate(world.candidate))
    assert state() == before


def test_merged_record_is_not_found(world):
    from tests.factories import CandidateFactory

    survivor = CandidateFactory(county_office=world.offices.county)
    world.candidate.status = "merged"
    world.candidate.merged_into = survivor
    world.candidate.save()
    before = state()
    with pytest.raises(NotFound):
        record(world, "cheating")
    assert state() == before


# --- revocation ----------------------------------------------------------------------------


def test_revocation_restores_exact_previous_results_with_history_chain(world):
    v = record(world, "serious_cheating", suspension_years=3)
    voided = {link.original_id: link.voided_id for link in ViolationScore.objects.filter(violation=v)}
    with clock.frozen_at(NOW + dt.timedelta(days=3)):
        services.violation_revoke(actor=world.actor, violation=v, reason="经查系监考误报")
    v.refresh_from_db()
    assert v.revoked_at == NOW + dt.timedelta(days=3)
    assert (v.revoked_by, v.revocation_reason) == (world.officer, "经查系监考误报")
    # The decision's content is kept for the record.
    assert (v.kind, v.suspension_years, v.suspension_ends) == ("serious_cheating", 3, D(2029, 4, 10))
    assert results(world) == BEFORE
    for original_id, void_id in voided.items():
        original = Score.objects.get(pk=original_id)
        now = current(world.candidate, original.course, world.sitting)
        chain = score_history(now)
        assert [s.pk for s in chain] == [original_id, void_id, now.pk]
        assert [s.status for s in chain] == [original.status, "void", original.status]
        assert (now.value, now.grade, now.status) == (original.value, original.grade, original.status)
        assert now.correction_reason == f"违规处理（编号{v.pk}）已撤销，恢复原成绩"
    assert set(ViolationScore.objects.filter(violation=v).values_list("state", flat=True)) == {"restored"}
    assert all(link.restored_id for link in ViolationScore.objects.filter(violation=v))
    assert active_suspension(world.candidate, on=D(2027, 1, 1)) is None
    assert suspension_blocks(world.candidate, "entry", on=D(2027, 1, 1)) is None
    assert list(v.events.values_list("type", flat=True)) == ["recorded", "revoked"]
    event = v.events.get(type="revoked")
    assert event.before["revoked"] is False and event.after["revoked"] is True
    assert sorted(event.after["restored"]) == ["00015", "00023", "02331"]
    assert AuditEvent.objects.filter(event_type="violation.revoked", subject_id=str(v.pk)).count() == 1
    assert Violation.objects.filter(pk=v.pk).exists()  # nothing deleted


@pytest.mark.parametrize(
    "setup,reason,code",
    [
        ("revoked", "x", "VIOLATION_REVOKED"),
        ("appeal", "x", "VIOLATION_APPEAL_OPEN"),
        ("none", "  ", "VIOLATION_REASON_REQUIRED"),
    ],
)
def test_revocation_refusals_change_nothing(world, setup, reason, code):
    v = record(world, "cheating")
    if setup == "revoked":
        services.violation_revoke(actor=world.actor, violation=v, reason="first")
    if setup == "appeal":
        services.violation_appeal_lodge(
            actor=world.actor, violation=v, submitted_on=D(2026, 5, 20), grounds="不服"
        )
    before = state()
    with pytest.raises(DomainError) as exc:
        services.violation_revoke(actor=world.actor, violation=v, reason=reason)
    assert exc.value.code == code
    assert state() == before


def test_revocation_out_of_scope_is_not_found(world):
    v = record(world, "cheating")
    outsider = world.make_staff(roles=(Role.CONDUCT_OFFICER,), office=world.offices.sibling_county)
    before = state()
    with pytest.raises(NotFound):
        services.violation_revoke(actor=Actor.staff(outsider), violation=v, reason="x")
    with pytest.raises(NotFound):
        services.violation_revoke(actor=world.actor, violation=987654, reason="x")
    assert state() == before


def test_a_correction_made_after_the_void_wins_over_restoration(world):
    v = record(world, "rule_breach", world.courses.A)
    void = current(world.candidate, world.courses.A, world.sitting)
    corrected = score_correct(
        actor=Actor.staff(world.province_officer), score=void, value=40, reason="复核更正"
    )
    services.violation_revoke(actor=world.actor, violation=v, reason="误报")
    assert current(world.candidate, world.courses.A, world.sitting).pk == corrected.pk
    link = ViolationScore.objects.get(violation=v)
    assert (link.state, link.restored_id) == ("superseded", None)
    assert v.events.get(type="revoked").after["superseded"] == ["00015"]


# --- overlapping violations in one sitting ---------------------------------------------------


def test_course_then_sitting_revoking_the_sitting_keeps_the_course_void(world):
    course_v = record(world, "rule_breach", world.courses.A)
    sitting_v = record(world, "cheating")
    assert ViolationScore.objects.filter(violation=sitting_v).count() == 2  # B and W; A was void already
    services.violation_revoke(actor=world.actor, violation=sitting_v, reason="误报")
    assert results(world) == {**BEFORE, "00015": (None, "void")}
    services.violation_revoke(actor=world.actor, violation=course_v, reason="误报")
    assert results(world) == BEFORE


def test_sitting_then_course_revoking_the_sitting_hands_the_course_over(world):
    sitting_v = record(world, "cheating")
    course_v = record(world, "rule_breach", world.courses.A)
    assert ViolationScore.objects.filter(violation=course_v).count() == 0
    services.violation_revoke(actor=world.actor, violation=sitting_v, reason="误报")
    assert results(world) == {**BEFORE, "00015": (None, "void")}
    handed = ViolationScore.objects.get(violation=sitting_v, original=world.scores.A)
    assert handed.state == "handed_over"
    taken = ViolationScore.objects.get(violation=course_v)
    assert (taken.state, taken.original_id, taken.voided_id) == ("held", world.scores.A.pk, handed.voided_id)
    services.violation_revoke(actor=world.actor, violation=course_v, reason="误报")
    assert results(world) == BEFORE
    assert score_history(current(world.candidate, world.courses.A, world.sitting))[0].pk == world.scores.A.pk


# --- results arriving after the decision ---------------------------------------------------


def test_result_imported_later_is_listed_and_voided_by_apply(world):
    v = record(world, "cheating")
    late = score_record(
        actor=Actor.system("import"),
        candidate=world.candidate,
        course=world.courses.D,
        sitting=world.sitting,
        value=66,
    )
    assert [s.pk for s in pending_scores(v)] == [late.pk]
    links = services.violation_apply(actor=world.actor, violation=v)
    assert [link.original_id for link in links] == [late.pk]
    assert results(world)["02326"] == (None, "void")
    assert pending_scores(v) == []
    before = state()
    with pytest.raises(DomainError) as exc:
        services.violation_apply(actor=world.actor, violation=v)
    assert exc.value.code == "VIOLATION_NOTHING_TO_VOID"
    assert state() == before
    assert list(v.events.values_list("type", flat=True)) == ["recorded", "scores_voided"]
    services.violation_revoke(actor=world.actor, violation=v, reason="误报")
    assert results(world)["02326"] == (66, "valid")


def test_apply_on_revoked_violation_is_refused(world):
    v = record(world, "cheating")
    services.violation_revoke(actor=world.actor, violation=v, reason="误报")
    with pytest.raises(DomainError) as exc:
        services.violation_apply(actor=world.actor, violation=v)
    assert exc.value.code == "VIOLATION_REVOKED"
    v.refresh_from_db()
    assert pending_scores(v) == []


# --- appeals -------------------------------------------------------------------------------


def lodge(w, v, **kw):
    kw.setdefault("submitted_on", D(2026, 5, 20))
    kw.setdefault("grounds", "本人未携带手机，系他人物品")
    return services.violation_appeal_lodge(actor=w.actor, violation=v, **kw)


def test_appeal_is_lodged_with_history(world):
    v = record(world, "cheating")
    appeal = lodge(world, v, decision_received_on=D(2026, 5, 20))
    assert (appeal.status, appeal.lodged_by, appeal.decision_received_on) == (
        "open",
        world.officer,
        D(2026, 5, 20),
    )
    assert list(v.events.values_list("type", flat=True)) == ["recorded", "appeal_lodged"]
    assert AuditEvent.objects.filter(event_type="violation.appeal_lodged").count() == 1
    assert results(world)["00015"] == (None, "void")  # the penalty stays in force meanwhile


@pytest.mark.parametrize(
    "decided,received,submitted,code",
    [
        (NOW, None, D(2026, 5, 21), "VIOLATION_APPEAL_DATE_INVALID"),  # in the future
        (NOW, D(2026, 5, 19), D(2026, 5, 20), "VIOLATION_APPEAL_DATE_INVALID"),  # received before decided
        (
            NOW - dt.timedelta(days=20),
            None,
            D(2026, 4, 29),
            "VIOLATION_APPEAL_DATE_INVALID",
        ),  # before decision
        (NOW - dt.timedelta(days=16), None, D(2026, 5, 20), "VIOLATION_APPEAL_LATE"),
    ],
)
def test_appeal_dates_are_checked(world, decided, received, submitted, code):
    with clock.frozen_at(decided):
        v = record(world, "cheating")
    before = state()
    with pytest.raises(DomainError) as exc:
        lodge(world, v, submitted_on=submitted, decision_received_on=received)
    assert exc.value.code == code
    assert state() == before


def test_appeal_on_day_15_is_in_time(world):
    with clock.frozen_at(NOW - dt.timedelta(days=15)):
        v = record(world, "cheating")
    assert lodge(world, v, submitted_on=D(2026, 5, 20)).status == "open"


def test_late_decision_receipt_extends_the_window(world):
    with clock.frozen_at(NOW - dt.timedelta(days=30)):
        v = record(world, "cheating")
    assert lodge(world, v, decision_received_on=D(2026, 5, 10)).decision_received_on == D(2026, 5, 10)


@pytest.mark.parametrize(
    "setup,code", [("twice", "VIOLATION_APPEAL_EXISTS"), ("revoked", "VIOLATION_REVOKED")]
)
def test_appeal_refusals(world, setup, code):
    v = record(world, "cheating")
    if setup == "twice":
        appeal = lodge(world, v)
        services.violation_appeal_decide(
            actor=Actor.staff(world.city_officer), appeal=appeal, outcome="upheld", note="事实清楚"
        )
    else:
        services.violation_revoke(actor=world.actor, violation=v, reason="误报")
    before = state()
    with pytest.raises(DomainError) as exc:
        lodge(world, v)
    assert exc.value.code == code
    assert state() == before


def test_appeal_needs_grounds(world):
    v = record(world, "cheating")
    with pytest.raises(DomainError) as exc:
        lodge(world, v, grounds=" ")
    assert exc.value.code == "VIOLATION_APPEAL_GROUNDS_REQUIRED"


def decide(w, appeal, outcome, who="city_officer", note="复核意见", **kw):
    return services.violation_appeal_decide(
        actor=Actor.staff(getattr(w, who)), appeal=appeal, outcome=outcome, note=note, **kw
    )


def test_upheld_appeal_changes_nothing_but_history(world):
    v = record(world, "serious_cheating", suspension_years=2)
    appeal = lodge(world, v)
    before_results = results(world)
    decide(world, appeal, "upheld", note="事实清楚，维持")
    appeal.refresh_from_db()
    assert (appeal.status, appeal.decided_by, appeal.decision_note) == (
        "upheld",
        world.city_officer,
        "事实清楚，维持",
    )
    assert results(world) == before_results
    assert active_suspension(world.candidate, on=D(2027, 1, 1)).violation_id == v.pk
    assert list(v.events.values_list("type", flat=True)) == ["recorded", "appeal_lodged", "appeal_upheld"]
    assert AuditEvent.objects.filter(event_type="violation.appeal_decided").count() == 1


def test_revoked_on_appeal_restores_everything(world):
    v = record(world, "organised_cheating")
    appeal = lodge(world, v)
    decide(world, appeal, "revoked", who="province_officer", note="证据不足，撤销")
    v.refresh_from_db()
    assert v.revocation_reason == "证据不足，撤销" and v.revoked_at == NOW
    assert results(world) == BEFORE
    assert active_suspension(world.candidate, on=D(2027, 1, 1)) is None
    restored = current(world.candidate, world.courses.A, world.sitting)
    assert restored.correction_reason == f"违规处理（编号{v.pk}）经复核撤销，恢复原成绩"
    assert ViolationAppeal.objects.get(pk=appeal.pk).status == "revoked"


def test_reduced_years_recount_from_the_same_start(world):
    v = record(world, "serious_cheating", suspension_years=3)
    appeal = lodge(world, v)
    decide(world, appeal, "reduced", kind="serious_cheating", suspension_years=1)
    v.refresh_from_db()
    assert (v.suspension_years, v.suspension_starts, v.suspension_ends) == (1, D(2026, 4, 11), D(2027, 4, 10))
    assert active_suspension(world.candidate, on=D(2027, 4, 11)) is None
    event = v.events.get(type="appeal_reduced")
    assert (event.before["suspension_years"], event.after["suspension_years"]) == (3, 1)
    assert event.before["suspension_ends"] == "2029-04-10"
    assert results(world)["00015"] == (None, "void")  # still the whole sitting


def test_reduced_to_cheating_ends_the_suspension(world):
    v = record(world, "serious_cheating", suspension_years=2)
    decide(world, lodge(world, v), "reduced", kind="cheating")
    v.refresh_from_db()
    assert (v.kind, v.penalty, v.suspension, v.suspension_years, v.suspension_starts) == (
        "cheating",
        "void_sitting",
        "",
        None,
        None,
    )
    assert active_suspension(world.candidate, on=D(2026, 6, 1)) is None


def test_reduced_to_one_course_restores_the_others(world):
    v = record(world, "cheating")
    decide(world, lodge(world, v), "reduced", kind="rule_breach", course=world.courses.A)
    v.refresh_from_db()
    assert (v.kind, v.penalty, v.course) == ("rule_breach", "void_course", world.courses.A)
    assert results(world) == {**BEFORE, "00015": (None, "void")}
    states = dict(ViolationScore.objects.filter(violation=v).values_list("original_id", "state"))
    assert states == {world.scores.A.pk: "held", world.scores.B.pk: "restored", world.scores.W.pk: "restored"}
    b = current(world.candidate, world.courses.B, world.sitting)
    assert b.correction_reason == f"违规处理（编号{v.pk}）经复核减轻，恢复原成绩"
    # A later revocation restores the last one.
    services.violation_revoke(actor=world.actor, violation=v, reason="再审撤销")
    assert results(world) == BEFORE


@pytest.mark.parametrize(
    "first,kw,code",
    [
        (("cheating", None, {}), {"kind": "cheating"}, "VIOLATION_REDUCTION_NOT_LESS"),
        (("cheating", None, {}), {"kind": "serious_cheating"}, "VIOLATION_REDUCTION_NOT_LESS"),
        (
            ("serious_cheating", None, {"suspension_years": 2}),
            {"kind": "serious_cheating", "suspension_years": 2},
            "VIOLATION_REDUCTION_NOT_LESS",
        ),
        (
            ("serious_cheating", None, {"suspension_years": 2}),
            {"kind": "serious_cheating", "suspension_years": 3},
            "VIOLATION_REDUCTION_NOT_LESS",
        ),
        (("rule_breach", "A", {}), {"kind": "rule_breach", "course": "A"}, "VIOLATION_REDUCTION_NOT_LESS"),
        (("rule_breach", "A", {}), {"kind": "rule_breach", "course": "B"}, "VIOLATION_REDUCTION_SCOPE"),
        (("cheating", None, {}), {"kind": "rule_breach"}, "VIOLATION_COURSE_REQUIRED"),
        (("cheating", None, {}), {"kind": "rule_breach", "course": "X"}, "VIOLATION_NOT_ENTERED"),
        (("cheating", None, {}), {}, "VIOLATION_KIND_INVALID"),
        (
            ("cheating", None, {}),
            {"kind": "cheating", "suspension_years": 1},
            "VIOLATION_SUSPENSION_NOT_ALLOWED",
        ),
    ],
)
def test_bad_reductions_are_refused(world, first, kw, code):
    kind, course, extra = first
    v = record(world, kind, getattr(world.courses, course) if course else None, **extra)
    appeal = lodge(world, v)
    kw = dict(kw)
    if "course" in kw:
        kw["course"] = getattr(world.courses, kw["course"])
    before = state()
    with pytest.raises(DomainError) as exc:
        decide(world, appeal, "reduced", **kw)
    assert exc.value.code == code
    assert state() == before


def test_reduction_onto_a_course_with_its_own_violation_is_refused(world):
    record(world, "rule_breach", world.courses.A)
    v = record(world, "serious_cheating", suspension_years=1)
    appeal = lodge(world, v)
    before = state()
    with pytest.raises(DomainError) as exc:
        decide(world, appeal, "reduced", kind="rule_breach", course=world.courses.A)
    assert exc.value.code == "VIOLATION_DUPLICATE"
    assert state() == before


@pytest.mark.parametrize(
    "recorder,decider,allowed",
    [
        ("county", "county", False),
        ("county", "city", True),
        ("county", "province", True),
        ("city", "city", False),
        ("city", "province", True),
        ("province", "province", True),
    ],
)
def test_appeal_is_decided_one_level_above(world, recorder, decider, allowed):
    staff = {"county": world.officer, "city": world.city_officer, "province": world.province_officer}
    v = record(world, "cheating", actor=Actor.staff(staff[recorder]))
    appeal = lodge(world, v)
    before = state()
    call = lambda: services.violation_appeal_decide(  # noqa: E731
        actor=Actor.staff(staff[decider]), appeal=appeal, outcome="upheld", note="维持"
    )
    if allowed:
        assert call().status == "upheld"
    else:
        with pytest.raises(DomainError) as exc:
            call()
        assert exc.value.code == "VIOLATION_APPEAL_LEVEL"
        assert state() == before


def test_legacy_violation_without_office_is_reviewed_by_the_province(world):
    v = record(world, "cheating")
    Violation.objects.filter(pk=v.pk).update(decided_by_office=None)
    appeal = lodge(world, v)
    with pytest.raises(DomainError) as exc:
        decide(world, appeal, "upheld")
    assert exc.value.code == "VIOLATION_APPEAL_LEVEL"
    assert decide(world, appeal, "upheld", who="province_officer").status == "upheld"


@pytest.mark.parametrize(
    "outcome,note,code",
    [
        ("annulled", "x", "VIOLATION_APPEAL_OUTCOME_INVALID"),
        ("upheld", " ", "VIOLATION_APPEAL_NOTE_REQUIRED"),
    ],
)
def test_appeal_decision_input_errors(world, outcome, note, code):
    v = record(world, "cheating")
    appeal = lodge(world, v)
    before = state()
    with pytest.raises(DomainError) as exc:
        decide(world, appeal, outcome, note=note)
    assert exc.value.code == code
    assert state() == before


def test_a_decided_appeal_cannot_be_decided_again(world):
    v = record(world, "cheating")
    appeal = lodge(world, v)
    decide(world, appeal, "upheld")
    before = state()
    with pytest.raises(DomainError) as exc:
        decide(world, appeal, "revoked")
    assert exc.value.code == "VIOLATION_APPEAL_NOT_OPEN"
    assert state() == before


def test_appeal_decision_out_of_scope_is_not_found(world):
    v = record(world, "cheating")
    appeal = lodge(world, v)
    outsider = world.make_staff(roles=(Role.CONDUCT_OFFICER,), office=world.offices.other_city)
    before = state()
    with pytest.raises(NotFound):
        services.violation_appeal_decide(
            actor=Actor.staff(outsider), appeal=appeal, outcome="revoked", note="x"
        )
    with pytest.raises(NotFound):
        services.violation_appeal_decide(actor=world.actor, appeal=424242, outcome="revoked", note="x")
    assert state() == before


def test_read_only_staff_cannot_lodge_or_decide(world):
    v = record(world, "cheating")
    appeal = lodge(world, v)
    reader = Actor.staff(world.make_staff(roles=(Role.READ_ONLY,), office=world.offices.province))
    before = state()
    with pytest.raises(PermissionDenied):
        services.violation_appeal_decide(actor=reader, appeal=appeal, outcome="revoked", note="x")
    with pytest.raises(PermissionDenied):
        services.violation_revoke(actor=reader, violation=v, reason="x")
    with pytest.raises(PermissionDenied):
        services.violation_apply(actor=reader, violation=v)
    assert state() == before


# --- the candidate's side ------------------------------------------------------------------


def test_candidate_sees_void_scores_and_revoked_violation(world):
    from zikao.candidates.selectors import candidate_record

    v = record(world, "serious_cheating", suspension_years=1)
    visible = {
        s.course_code: (s.value, s.status, s.passed) for s in candidate_visible_scores(world.candidate)
    }
    assert visible["00015"] == (None, "void", False)
    assert visible["03708"] == (88, "valid", True)
    rec = candidate_record(world.candidate)
    assert [x.pk for x in rec.violations] == [v.pk]
    assert rec.suspension.ends == D(2027, 4, 10)
    services.violation_revoke(actor=world.actor, violation=v, reason="误报")
    rec = candidate_record(world.candidate)
    assert [(x.pk, x.revoked_at is not None) for x in rec.violations] == [(v.pk, True)]
    assert rec.suspension is None
    visible = {s.course_code: (s.value, s.status) for s in candidate_visible_scores(world.candidate)}
    assert visible["00015"] == (75, "valid")


def test_counts_helper_sees_every_write(world):
    before = counts()
    record(world, "rule_breach", world.courses.A)
    after = counts()
    assert after["violations"] == before["violations"] + 1
    assert after["links"] == before["links"] + 1
    assert after["scores"] == before["scores"] + 1
    assert after["current_scores"] == before["current_scores"]
    assert after["events"] == before["events"] + 1
    assert after["audit"] == before["audit"] + 2  # violation.recorded + score.corrected
    assert ViolationEvent.objects.get().after["voided_scores"] == [
        current(world.candidate, world.courses.A, world.sitting).pk
    ]


def test_violation_covering_for_score_imports(world):
    from zikao.conduct.selectors import violation_covering

    assert violation_covering(world.candidate, world.sitting, world.courses.D) is None
    course_v = record(world, "rule_breach", world.courses.D)
    assert violation_covering(world.candidate, world.sitting, world.courses.D) == course_v
    assert violation_covering(world.candidate, world.sitting, world.courses.A) is None
    sitting_v = record(world, "cheating")
    assert violation_covering(world.candidate, world.sitting, world.courses.A) == sitting_v
    assert violation_covering(world.candidate, world.earlier, world.courses.E) is None
    services.violation_revoke(actor=world.actor, violation=sitting_v, reason="误报")
    assert violation_covering(world.candidate, world.sitting, world.courses.A) is None
