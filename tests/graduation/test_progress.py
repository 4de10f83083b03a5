import datetime as dt

import pytest

from tests.factories import SHANGHAI, CandidateFactory, CandidateMajorFactory, ScoreFactory, SittingFactory
from zikao.catalog.models import Course, Plan
from zikao.catalog.services import catalog_load_reference_data
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.graduation.rules import plan_version_available
from zikao.graduation.selectors import graduation_progress
from zikao.scores.models import Score

D = dt.date


def test_plan_version_availability_follows_the_transition_rule():
    old = {"graduate_until": D(2026, 6, 30), "old_candidates_registered_before": D(2024, 7, 1)}
    assert plan_version_available(registered_on=D(2023, 3, 1), on=D(2026, 6, 30), **old)
    assert not plan_version_available(registered_on=D(2023, 3, 1), on=D(2026, 7, 1), **old)
    assert not plan_version_available(registered_on=D(2024, 7, 1), on=D(2025, 1, 1), **old)
    assert plan_version_available(
        registered_on=D(2025, 1, 1),
        on=D(2030, 1, 1),
        graduate_until=None,
        old_candidates_registered_before=None,
    )


@pytest.fixture
def world(db):
    catalog_load_reference_data(actor=Actor.system("test"))
    plan_2021 = Plan.objects.get(major__code="080901", version=2021)
    candidate = CandidateFactory(registered_on=D(2023, 3, 1))
    CandidateMajorFactory(candidate=candidate, plan=plan_2021, registered_on=D(2023, 3, 1))
    released = SittingFactory(label="202510", release_at=dt.datetime(2025, 11, 20, 15, tzinfo=SHANGHAI))
    pending = SittingFactory(label="202610", release_at=dt.datetime(2026, 11, 28, 15, tzinfo=SHANGHAI))

    def passes(sitting, *codes, value=70):
        for code in codes:
            ScoreFactory(
                entry__candidate=candidate,
                entry__sitting=sitting,
                entry__course=Course.objects.get(code=code),
                value=value if Course.objects.get(code=code).kind == "theory" else None,
                grade="" if Course.objects.get(code=code).kind == "theory" else "合格",
            )

    return candidate, released, pending, passes


def test_old_plan_candidate_sees_both_versions_inside_the_transition(world):
    candidate, released, _pending, passes = world
    passes(released, "03708", "03709", "00023", "02324")
    with clock.frozen_at(dt.datetime(2026, 3, 1, tzinfo=SHANGHAI)):
        progress = graduation_progress(candidate)
    assert [(p.plan_version, p.registered_plan, p.available) for p in progress] == [
        (2021, True, True),
        (2024, False, True),
    ]
    old, new = progress[0].evaluation, progress[1].evaluation
    assert old.item("03708").met and old.item("00023").met
    # Under 2024 the old politics courses substitute row for row (table rows 1 and 2), credited
    # at the new courses' 3 credits; 15040 can never be replaced.
    f43, f44 = new.item("15043").fulfilment, new.item("15044").fulfilment
    assert (f43.via, f43.sources, f43.credits) == ("table", ("03708",), 3)
    assert (f44.via, f44.sources, f44.credits) == ("table", ("03709",), 3)
    assert "15040" in new.missing_required
    assert new.item("00023").fulfilment.via == "pass"
    assert not old.complete and not new.complete


def test_after_the_transition_the_old_version_is_shown_as_closed(world):
    candidate, _released, _pending, _passes = world
    with clock.frozen_at(dt.datetime(2026, 7, 1, tzinfo=SHANGHAI)):
        progress = graduation_progress(candidate)
    assert [(p.plan_version, p.available) for p in progress] == [(2021, False), (2024, True)]


def test_unreleased_and_withheld_passes_do_not_count(world):
    candidate, released, pending, passes = world
    passes(pending, "00023")
    passes(released, "02324")
    before = dt.datetime(2026, 11, 28, 14, 59, tzinfo=SHANGHAI)
    after = dt.datetime(2026, 11, 28, 15, 0, tzinfo=SHANGHAI)
    with clock.frozen_at(before):
        evaluation = graduation_progress(candidate)[0].evaluation
    assert not evaluation.item("00023").met and evaluation.item("02324").met
    with clock.frozen_at(after):
        assert graduation_progress(candidate)[0].evaluation.item("00023").met
    Score.objects.filter(sitting=pending).update(status=Score.Status.WITHHELD)
    with clock.frozen_at(after):
        assert not graduation_progress(candidate)[0].evaluation.item("00023").met
