"""Engine inputs for a stored plan: the bridge between Plan rows and the pure plan engine.

The graduation-progress selector (and anything else that audits a record) does::

    from zikao.catalog.planstore import plan_context
    from zikao.catalog.rules import PassedCourse, evaluate_plan

    spec, substitutions, politics = plan_context(plan)
    evaluation = evaluate_plan(spec, passed, substitutions=substitutions, politics=politics)

or, equivalently, ``plan_context(plan).evaluate(passed)``; ``entry_eligibility`` takes the same
keyword arguments. `passed` is one `PassedCourse` per course code: the candidate's best valid
pass (score ≥ pass mark, published, not voided), method "exam" / "exemption" /
"substitution" / "transfer".

Reads only; nothing here writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

from zikao.catalog.models import Plan, PlanSubstitution, PoliticsRuleSet
from zikao.catalog.planfile import PlanSpec, PoliticsRules, SubstitutionTable
from zikao.catalog.rules import PassedCourse, PlanEvaluation, entry_eligibility, evaluate_plan


class PlanContext(NamedTuple):
    """(spec, substitutions, politics): everything `evaluate_plan` needs besides the passes."""

    spec: PlanSpec
    substitutions: list[SubstitutionTable]
    politics: PoliticsRules | None

    def evaluate(self, passed: Sequence[PassedCourse]) -> PlanEvaluation:
        return evaluate_plan(self.spec, passed, substitutions=self.substitutions, politics=self.politics)

    def eligibility(self, passed: Sequence[PassedCourse]) -> dict[str, str | None]:
        return entry_eligibility(self.spec, passed, substitutions=self.substitutions, politics=self.politics)


def _plan_courses(major_id: int, version: int) -> tuple[tuple[str, int], ...]:
    plan = Plan.objects.filter(major_id=major_id, version=version).only("spec").first()
    if plan is None:
        return ()
    return tuple((item["code"], item["credits"]) for item in plan.spec["items"])


def plan_context(plan: Plan) -> PlanContext:
    """Build the engine inputs for a stored plan: its spec, the substitution tables that
    involve its version (with both versions' course lists filled in, for general rule 4), and
    the politics rules (the most recently imported set; None if none is loaded)."""
    spec = PlanSpec.from_json(plan.spec)
    tables: list[SubstitutionTable] = []
    rows = PlanSubstitution.objects.filter(major_code=plan.major.code, level=plan.major.level).order_by("pk")
    for row in rows:
        if plan.version not in (row.from_version, row.to_version):
            continue
        table = SubstitutionTable.from_json(row.spec)
        tables.append(
            dataclasses.replace(
                table,
                from_plan_courses=_plan_courses(plan.major_id, row.from_version),
                to_plan_courses=_plan_courses(plan.major_id, row.to_version),
            )
        )
    politics_row = PoliticsRuleSet.objects.order_by("-imported_at", "-pk").first()
    politics = PoliticsRules.from_json(politics_row.spec) if politics_row is not None else None
    return PlanContext(spec, tables, politics)
