"""Graduation progress (毕业预测): the plan engine over the candidate's visible passes.

Every front door shows progress through `graduation_progress`; it reads passes only through
`scores.selectors.candidate_passed_courses`, so an unreleased or withheld score never counts
toward what a candidate is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from zikao.candidates.models import CandidateMajor
from zikao.catalog.models import Plan
from zikao.catalog.planstore import plan_context
from zikao.catalog.rules import PassedCourse, PlanEvaluation
from zikao.core import clock
from zikao.graduation import rules
from zikao.scores.selectors import candidate_passed_courses


@dataclass(frozen=True)
class PlanProgress:
    """One plan version evaluated for one candidate."""

    major_code: str
    major_name: str
    level: str
    plan_version: int
    plan_title: str
    registered_plan: bool  # the version the candidate is registered under
    available: bool  # may graduate under it today (transition rules)
    available_until: object  # date or None
    evaluation: PlanEvaluation


def _versions_to_show(cm: CandidateMajor) -> list[Plan]:
    """The registered version and, if newer, the current version of the same major."""
    newest = Plan.objects.filter(major=cm.major).order_by("-version").first()
    plans = [cm.plan]
    if newest is not None and newest.pk != cm.plan_id:
        plans.append(newest)
    return plans


def graduation_progress(candidate, *, at: datetime | None = None) -> list[PlanProgress]:
    """For each active major: the registered plan and, for an older-version candidate, the
    current version side by side, each with what is met, how, and exactly what is missing.

    Versions the candidate may no longer graduate under (transition period over) are still
    shown with `available=False`, so the candidate sees why the newer plan now applies.
    """
    instant = at or clock.now()
    today = clock.today() if at is None else instant.date()
    passed = [
        PassedCourse(
            code=p.course_code,
            name=p.course_name,
            credits=p.credits,
            kind=p.course_kind,
            method=p.method,
            sitting=p.sitting,
        )
        for p in candidate_passed_courses(candidate, at=instant)
    ]
    result: list[PlanProgress] = []
    majors = (
        CandidateMajor.objects.filter(candidate=candidate, active=True)
        .select_related("major", "plan")
        .order_by("registered_on", "pk")
    )
    for cm in majors:
        for plan in _versions_to_show(cm):
            evaluation = plan_context(plan).evaluate(passed)
            result.append(
                PlanProgress(
                    major_code=cm.major.code,
                    major_name=cm.major.name,
                    level=cm.major.level,
                    plan_version=plan.version,
                    plan_title=plan.title,
                    registered_plan=plan.pk == cm.plan_id,
                    available=rules.plan_version_available(
                        registered_on=cm.registered_on,
                        on=today,
                        graduate_until=plan.graduate_until,
                        old_candidates_registered_before=plan.old_candidates_registered_before,
                    ),
                    available_until=plan.graduate_until,
                    evaluation=evaluation,
                )
            )
    return result
