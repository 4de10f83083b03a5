import datetime as dt

import pytest

from tests.factories import (
    SHANGHAI,
    CandidateFactory,
    CourseFactory,
    EntryFactory,
    SittingFactory,
    StaffFactory,
)
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, ValidationFailed
from zikao.core.models import AuditEvent
from zikao.scores.models import Score
from zikao.scores.selectors import candidate_visible_scores, score_history
from zikao.scores.services import score_correct, score_record

pytestmark = pytest.mark.django_db
RELEASE = dt.datetime(2026, 11, 28, 15, 0, tzinfo=SHANGHAI)
BEFORE, AFTER = RELEASE - dt.timedelta(days=1), RELEASE + dt.timedelta(days=1)


@pytest.fixture
def entry():
    sitting = SittingFactory(label="202610", first_day=dt.date(2026, 10, 24), release_at=RELEASE)
    return EntryFactory(sitting=sitting, course=CourseFactory(code="02324"))


@pytest.fixture
def staff():
    return Actor.staff(StaffFactory())


def _record(entry, actor, **kw):
    return score_record(
        actor=actor, candidate=entry.candidate, course=entry.course, sitting=entry.sitting, **kw
    )


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"value": 101}, "SCORE_OUT_OF_RANGE"),
        ({"value": None, "grade": "良好"}, "SCORE_GRADE_INVALID"),
        ({"value": None, "grade": "很好"}, "SCORE_GRADE_INVALID"),
        ({"value": 70, "grade": "良好"}, "SCORE_VALUE_AND_GRADE"),
        ({"value": None}, "SCORE_MISSING"),
        ({"value": 50, "status": "absent"}, "SCORE_ABSENT_HAS_VALUE"),
    ],
)
def test_impossible_results_are_refused_and_nothing_is_written(entry, staff, kw, code):
    with pytest.raises(ValidationFailed) as exc:
        _record(entry, staff, **kw)
    assert exc.value.code == code
    assert not Score.objects.exists()
    assert not AuditEvent.objects.exists()


def test_exam_score_needs_an_entry(staff):
    sitting = SittingFactory()
    with pytest.raises(DomainError) as exc:
        score_record(
            actor=staff, candidate=CandidateFactory(), course=CourseFactory(), sitting=sitting, value=70
        )
    assert exc.value.code == "SCORE_NOT_ENTERED"
    assert not Score.objects.exists()


def test_recording_is_idempotent_and_conflicts_are_refused(entry, staff):
    with clock.frozen_at(BEFORE):
        first = _record(entry, staff, value=71)
        assert _record(entry, staff, value=71).pk == first.pk
        with pytest.raises(DomainError) as exc:
            _record(entry, staff, value=72)
        assert exc.value.code == "SCORE_CONFLICT"
    with clock.frozen_at(AFTER), pytest.raises(DomainError) as exc:
        _record(entry, staff, value=72)
    assert exc.value.code == "SCORE_PUBLISHED"
    assert list(Score.objects.values_list("value", flat=True)) == [71]
    assert AuditEvent.objects.filter(event_type="score.recorded").count() == 1


def test_correction_supersedes_and_keeps_history(entry, staff):
    with clock.frozen_at(BEFORE):
        original = _record(entry, staff, value=58)
    with clock.frozen_at(AFTER):
        corrected = score_correct(actor=staff, score=original, value=61, reason="复查发现漏计第5题3分")
        assert [(r.value, r.passed) for r in candidate_visible_scores(entry.candidate)] == [(61, True)]
    original.refresh_from_db()
    assert (original.is_current, original.value) == (False, 58)
    assert (corrected.supersedes_id, corrected.correction_reason, corrected.created_by) == (
        original.pk,
        "复查发现漏计第5题3分",
        staff.user,
    )
    assert [s.value for s in score_history(original)] == [58, 61]
    assert [s.value for s in score_history(corrected)] == [58, 61]
    event = AuditEvent.objects.get(event_type="score.corrected")
    assert (event.before["value"], event.after["value"], event.actor_user) == (58, 61, staff.user)


def test_correction_refusals_change_nothing(entry, staff):
    with clock.frozen_at(BEFORE):
        original = _record(entry, staff, value=58)
    with pytest.raises(ValidationFailed) as exc:
        score_correct(actor=staff, score=original, value=61, reason="  ")
    assert exc.value.code == "SCORE_CORRECTION_REASON_REQUIRED"
    with pytest.raises(DomainError) as exc:
        score_correct(actor=staff, score=original, value=58, reason="x")
    assert exc.value.code == "SCORE_CORRECTION_UNCHANGED"
    with pytest.raises(ValidationFailed):
        score_correct(actor=staff, score=original, value=101, reason="x")
    score_correct(actor=staff, score=original, value=61, reason="x")
    with pytest.raises(DomainError) as exc:
        score_correct(actor=staff, score=original, value=62, reason="again on the old version")
    assert exc.value.code == "SCORE_NOT_CURRENT"
    assert sorted(Score.objects.values_list("value", "is_current")) == [(58, False), (61, True)]


def test_thesis_is_never_exempt(staff):
    thesis = CourseFactory(code="14976", kind="thesis", credits=0)
    with pytest.raises(DomainError) as exc:
        score_record(
            actor=staff,
            candidate=CandidateFactory(),
            course=thesis,
            sitting=None,
            value=None,
            grade="合格",
            method="exemption",
        )
    assert exc.value.code == "EXEMPTION_THESIS"
    assert not Score.objects.exists()
