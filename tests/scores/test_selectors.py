"""The embargo and withholding live in one read path: these tests pin it down."""

import datetime as dt

import pytest

from tests.factories import SHANGHAI, CandidateFactory, CourseFactory, ScoreFactory, SittingFactory
from zikao.core import clock
from zikao.scores.models import Score
from zikao.scores.selectors import candidate_passed_courses, candidate_visible_scores, sitting_release

pytestmark = pytest.mark.django_db
RELEASE = dt.datetime(2026, 11, 28, 15, 0, tzinfo=SHANGHAI)


@pytest.fixture
def setup():
    candidate = CandidateFactory()
    old = SittingFactory(label="202604", release_at=dt.datetime(2026, 5, 10, 15, 0, tzinfo=SHANGHAI))
    new = SittingFactory(label="202610", first_day=dt.date(2026, 10, 24), release_at=RELEASE)
    c1, c2 = CourseFactory(code="00023", credits=10), CourseFactory(code="02324", credits=4)
    ScoreFactory(entry__candidate=candidate, entry__sitting=old, entry__course=c1, value=55)
    ScoreFactory(entry__candidate=candidate, entry__sitting=new, entry__course=c1, value=81)
    ScoreFactory(entry__candidate=candidate, entry__sitting=new, entry__course=c2, value=64)
    return candidate, old, new


def _codes(rows):
    return [(r.sitting, r.course_code, r.value) for r in rows]


def test_unreleased_sitting_is_invisible_until_the_instant(setup):
    candidate, _old, new = setup
    with clock.frozen_at(RELEASE - dt.timedelta(microseconds=1)):
        assert _codes(candidate_visible_scores(candidate)) == [("202604", "00023", 55)]
        assert candidate_visible_scores(candidate, sitting=new) == []
        assert candidate_passed_courses(candidate) == []
        assert sitting_release(new).released is False
    with clock.frozen_at(RELEASE):
        assert _codes(candidate_visible_scores(candidate)) == [
            ("202604", "00023", 55),
            ("202610", "00023", 81),
            ("202610", "02324", 64),
        ]
        assert [(p.course_code, p.value, p.method) for p in candidate_passed_courses(candidate)] == [
            ("00023", 81, "exam"),
            ("02324", 64, "exam"),
        ]


def test_publishing_early_opens_the_sitting(setup):
    candidate, _old, new = setup
    new.published_at = RELEASE - dt.timedelta(hours=2)
    new.save()
    with clock.frozen_at(RELEASE - dt.timedelta(hours=1)):
        assert len(candidate_visible_scores(candidate, sitting="202610")) == 2


def test_sitting_without_release_time_stays_hidden(setup):
    candidate, _old, new = setup
    new.release_at = None
    new.save()
    with clock.frozen_at(RELEASE + dt.timedelta(days=400)):
        assert candidate_visible_scores(candidate, sitting=new) == []


def test_withheld_scores_are_never_visible(setup):
    candidate, _old, new = setup
    Score.objects.filter(sitting=new, course__code="02324").update(status=Score.Status.WITHHELD)
    with clock.frozen_at(RELEASE + dt.timedelta(days=1)):
        assert _codes(candidate_visible_scores(candidate, sitting=new)) == [("202610", "00023", 81)]
        assert [p.course_code for p in candidate_passed_courses(candidate)] == ["00023"]


def test_other_candidates_scores_never_appear(setup):
    candidate, _old, _new = setup
    other = CandidateFactory()
    with clock.frozen_at(RELEASE + dt.timedelta(days=1)):
        assert candidate_visible_scores(other) == []
        assert all(r.course_code in {"00023", "02324"} for r in candidate_visible_scores(candidate))


def test_best_pass_wins_and_fails_absences_and_voids_do_not_pass():
    candidate = CandidateFactory()
    s1 = SittingFactory(label="202304", release_at=dt.datetime(2023, 5, 10, 7, tzinfo=dt.UTC))
    s2 = SittingFactory(label="202310", release_at=dt.datetime(2023, 11, 10, 7, tzinfo=dt.UTC))
    s3 = SittingFactory(label="202404", release_at=dt.datetime(2024, 5, 10, 7, tzinfo=dt.UTC))
    theory = CourseFactory(code="13013")
    practice = CourseFactory(code="13014", kind="practice", credits=2)
    voided = CourseFactory(code="13003")
    ScoreFactory(entry__candidate=candidate, entry__sitting=s1, entry__course=theory, value=62)
    ScoreFactory(entry__candidate=candidate, entry__sitting=s2, entry__course=theory, value=62)
    ScoreFactory(entry__candidate=candidate, entry__sitting=s3, entry__course=theory, value=59)
    ScoreFactory(
        entry__candidate=candidate, entry__sitting=s2, entry__course=practice, value=None, grade="良好"
    )
    ScoreFactory(entry__candidate=candidate, entry__sitting=s3, entry__course=voided, value=90, status="void")
    ScoreFactory(
        entry__candidate=candidate, entry__sitting=s1, entry__course=voided, value=None, status="absent"
    )
    passed = candidate_passed_courses(candidate)
    assert [(p.course_code, p.sitting, p.value, p.grade) for p in passed] == [
        ("13013", "202304", 62, ""),
        ("13014", "202310", None, "良好"),
    ]
    visible = {(r.sitting, r.course_code): (r.status, r.passed) for r in candidate_visible_scores(candidate)}
    assert visible[("202404", "13003")] == ("void", False)
    assert visible[("202304", "13003")] == ("absent", False)
    assert visible[("202404", "13013")] == ("valid", False)


def test_credit_without_sitting_is_visible_and_passes():
    candidate = CandidateFactory()
    course = CourseFactory(code="00015", credits=14)
    Score.objects.create(
        candidate=candidate, course=course, sitting=None, value=60, method="exemption", created_at=clock.now()
    )
    assert [(p.course_code, p.method, p.sitting) for p in candidate_passed_courses(candidate)] == [
        ("00015", "exemption", None)
    ]
