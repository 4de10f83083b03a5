"""The plan engine: pure functions that audit a candidate's passes against an exam plan.

`evaluate_plan` answers 毕业预测 ("what is still missing") and the graduation audit's course
part; `entry_eligibility` says which plan courses a candidate may still enter (报考). No
database: the inputs are the validated documents of `catalog.planfile` (see
`catalog.planstore.plan_context` for building them from stored rows) and the candidate's best
valid pass per course.

How a plan course can be met (a `Fulfilment`):

* ``pass``     — the course itself was passed (by exam, exemption, an office substitution
  record or transfer: the `PassedCourse.method`), credited with the plan's credits;
* ``table``    — a row of a substitution table between two versions of the major, in either
  direction, credited with the TARGET plan's credits (handbook general rule 3);
* ``politics`` — a Jiangsu politics-course rule (old politics courses replace 15043/15044 or
  15041/15042; never 15040), credited with the plan's credits;
* ``waived``   — a practice part not required because the substituting old course has no
  practice part (general rule 7); met, but credited with 0 credits, so the plan's minimum total
  may then require more credits elsewhere.

Besides, under the newer version, passed courses of the older version that have no
substitution relation count toward the total credits (general rules 4 and 6: ``extra``) without
meeting any item. When a passed course could serve several places (a substitution target that
is a choice, a politics rule vs. a table row, the 050101 paths), the engine tries every
combination (small exhaustive search) and keeps the best: complete first, then fewest missing
courses, then most credits; ties go to the earlier path / the direct pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from itertools import combinations, pairwise, product

from django.utils.translation import gettext_lazy as _

from zikao.catalog.planfile import (
    GroupSpec,
    PathSpec,
    PlanItemSpec,
    PlanSpec,
    PoliticsRules,
    SubstitutionRow,
    SubstitutionSide,
    SubstitutionTable,
)

PASS_METHODS = ("exam", "exemption", "substitution", "transfer")

VIA_PASS = "pass"  # noqa: S105 - a fulfilment kind, not a secret
VIA_TABLE = "table"
VIA_POLITICS = "politics"
VIA_WAIVED = "waived"
VIA_EXTRA = "extra"

# Reason codes of entry_eligibility (None = may enter).
ALREADY_PASSED = "ALREADY_PASSED"
ALREADY_CREDITED = "ALREADY_CREDITED"
NOT_REQUIRED = "NOT_REQUIRED"
THEORY_NOT_PASSED = "THEORY_NOT_PASSED"
THESIS_NOT_YET = "THESIS_NOT_YET"
PRECONDITION_NOT_MET = "PRECONDITION_NOT_MET"

_MAX_UNITS_PER_COMPONENT = 14
_MAX_COMBINATIONS = 4096

Credits = int | Decimal  # Decimal only for the two half-credit courses (02277, 02278)


@dataclass(frozen=True)
class PassedCourse:
    """A candidate's best valid pass of one course (one per course code)."""

    code: str
    name: str
    credits: Credits
    kind: str
    method: str
    sitting: str | None = None


@dataclass(frozen=True)
class Fulfilment:
    """How one plan course is met (or, for ``extra``, how an old course adds credits).

    `sources` are the passed courses used and `methods` their pass methods; `rule` names the
    substitution row ("<table id> row 6→7", reversed: "row 7→6") or politics rule
    ("<rules id> benke RULE-1").
    """

    code: str
    via: str
    sources: tuple[str, ...]
    methods: tuple[str, ...]
    credits: Credits
    rule: str = ""


@dataclass(frozen=True)
class ItemStatus:
    """One plan row. `counted`: its credits count toward the chosen path's total; `blocked`: why
    it may not be entered yet (THEORY_NOT_PASSED, THESIS_NOT_YET, PRECONDITION_NOT_MET)."""

    row: int
    code: str
    name: str
    kind: str
    credits: Credits
    groups: tuple[str, ...]
    required: bool
    degree: bool
    practice_for: str | None
    met: bool
    fulfilment: Fulfilment | None
    counted: bool
    blocked: str | None


@dataclass(frozen=True)
class GroupStatus:
    """A choice / elective set in the chosen path: what counts, and how far it is short."""

    id: str
    title: str
    min_courses: int
    min_credits: int
    max_courses: int | None
    is_choice: bool
    met: bool
    counted: tuple[str, ...]
    courses_done: int
    credits_done: Credits
    short_courses: int
    short_credits: Credits
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class PathStatus:
    """A path evaluated with its own best assignment."""

    id: str
    title: str
    min_total_credits: int
    complete: bool
    missing_courses: int
    credits_earned: Credits
    credits_short: Credits


@dataclass(frozen=True)
class PlanEvaluation:
    """The engine's verdict on one plan for one candidate (all tuples in plan row order).

    * `complete`: every requirement of the chosen path met, thesis passed, credits ≥ minimum.
    * `path`: the chosen (complete, else closest) path; `paths`: every path's own best.
    * `credits_earned` / `min_total_credits` / `credits_short` (short even when every course is
      met, e.g. after a waived practice part).
    * `missing_required`: required courses (not thesis) not met; `open_choices`: choose-one
      groups not met; `short_groups`: other groups short by N courses / M credits; both carry
      the remaining candidates.
    * `thesis`: thesis codes not yet passed; `thesis_allowed`: every other requirement is met.
    * `practice_blocked`: practice items not met whose theory course is not met;
      `precondition_blocked`: items whose precondition (≥N courses) is not met.
    * `extras`: old-version courses counted toward credits only; `politics_rule`: the rule
      applied, if any; `unused`: passed courses that count for nothing here.
    """

    plan: str
    complete: bool
    path: str
    paths: tuple[PathStatus, ...]
    min_total_credits: int
    credits_earned: Credits
    credits_short: Credits
    items: tuple[ItemStatus, ...]
    groups: tuple[GroupStatus, ...]
    missing_required: tuple[str, ...]
    open_choices: tuple[GroupStatus, ...]
    short_groups: tuple[GroupStatus, ...]
    thesis: tuple[str, ...]
    thesis_allowed: bool
    practice_blocked: tuple[str, ...]
    precondition_blocked: tuple[str, ...]
    extras: tuple[Fulfilment, ...]
    politics_rule: str | None
    unused: tuple[str, ...]

    def item(self, code: str) -> ItemStatus:
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(code)

    def group(self, group_id: str) -> GroupStatus:
        for group in self.groups:
            if group.id == group_id:
                return group
        raise KeyError(group_id)

    @property
    def missing_courses(self) -> int:
        """Fewest further courses needed (required + thesis + what the groups are short)."""
        return (
            len(self.missing_required)
            + len(self.thesis)
            + sum(g.short_courses for g in (*self.open_choices, *self.short_groups))
        )


# --- candidate fulfilments ("units") -------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    """A way to meet one or more plan items at once, using some passed courses."""

    fulfilments: tuple[Fulfilment, ...]
    consumes: frozenset[str]

    @property
    def items(self) -> frozenset[str]:
        return frozenset(f.code for f in self.fulfilments)

    def conflicts(self, other: _Unit) -> bool:
        return bool(self.items & other.items or self.consumes & other.consumes)


def _subsets(fulfilments: Sequence[Fulfilment], consumes: frozenset[str]) -> list[_Unit]:
    """Every non-empty subset as a unit, so that a direct pass of one target does not stop the
    same substitution from meeting the others."""
    return [
        _Unit(tuple(subset), consumes)
        for size in range(len(fulfilments), 0, -1)
        for subset in combinations(fulfilments, size)
    ]


def _direction(spec: PlanSpec, table: SubstitutionTable) -> str | None:
    if table.major_code != spec.major_code or table.level != spec.level:
        return None
    if table.to_version == spec.version:
        return "forward"
    if table.from_version == spec.version:
        return "reverse"
    return None


def _table_units(
    spec: PlanSpec, table: SubstitutionTable, direction: str, passed: Mapping[str, PassedCourse]
) -> list[_Unit]:
    units: list[_Unit] = []
    for row in table.rows:
        if direction == "reverse" and not row.reversible:
            continue
        source, target = (row.old, row.new) if direction == "forward" else (row.new, row.old)
        label = (
            f"{table.id} row {row.old_row}→{row.new_row}"
            if direction == "forward"
            else (f"{table.id} row {row.new_row}→{row.old_row}")
        )
        if set(source.theory) | {source.practice} == set(target.theory) | {target.practice}:
            continue  # same courses on both sides: a direct pass already counts
        units.extend(_row_units(spec, source, target, label, passed))
    return units


def _row_units(
    spec: PlanSpec,
    source: SubstitutionSide,
    target: SubstitutionSide,
    label: str,
    passed: Mapping[str, PassedCourse],
) -> list[_Unit]:
    units: list[_Unit] = []
    used = [c for c in source.theory if c in passed]
    if len(used) >= source.min:
        consumes = frozenset(used)
        methods = tuple(passed[c].method for c in used)

        def credit(code: str) -> Fulfilment:
            return Fulfilment(code, VIA_TABLE, tuple(used), methods, _credits(spec, code), label)

        targets = [c for c in target.theory if spec.item(c) is not None]
        if target.is_one_of:
            units.extend(_Unit((credit(code),), consumes) for code in targets)
        elif targets:
            fulfilments = [credit(code) for code in targets]
            if target.practice and not source.practice and spec.item(target.practice) is not None:
                fulfilments.append(Fulfilment(target.practice, VIA_WAIVED, tuple(used), methods, 0, label))
            units.extend(_subsets(fulfilments, consumes))
    if (
        source.practice
        and target.practice
        and source.practice in passed
        and spec.item(target.practice) is not None
    ):
        practice = passed[source.practice]
        units.append(
            _Unit(
                (
                    Fulfilment(
                        target.practice,
                        VIA_TABLE,
                        (practice.code,),
                        (practice.method,),
                        _credits(spec, target.practice),
                        label,
                    ),
                ),
                frozenset({practice.code}),
            )
        )
    return units


def _credits(spec: PlanSpec, code: str) -> int:
    item = spec.item(code)
    return item.credits if item is not None else 0


def _politics_match(
    spec: PlanSpec, politics: PoliticsRules, passed: Mapping[str, PassedCourse]
) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    """(rule label, replaced plan codes, old codes used) of the first matching rule, or None."""
    seqs: dict[int, list[str]] = {}
    for old in politics.old_courses:
        if old.level != spec.level:
            continue
        hits = [code for code in old.codes if code in passed]
        if hits:
            seqs[old.seq] = hits
    if not seqs:
        return None
    for rule in politics.rules:
        if rule.level != spec.level:
            continue
        matched = [seq for seq in rule.seqs if seq in seqs]
        count = len(matched)
        if count < rule.min_passed or (rule.max_passed is not None and count > rule.max_passed):
            continue
        replaced = tuple(
            code
            for code in rule.replaces
            if code not in politics.never_replaced and spec.item(code) is not None
        )
        used = tuple(code for seq in sorted(matched) for code in seqs[seq])
        return f"{politics.id} {spec.level} {rule.id}", replaced, used
    return None


def _politics_units(
    spec: PlanSpec, politics: PoliticsRules | None, passed: Mapping[str, PassedCourse]
) -> tuple[list[_Unit], str | None]:
    if politics is None:
        return [], None
    match = _politics_match(spec, politics, passed)
    if match is None:
        return [], None
    label, replaced, used = match
    if not replaced:
        return [], None
    methods = tuple(passed[c].method for c in used)
    fulfilments = [
        Fulfilment(code, VIA_POLITICS, used, methods, _credits(spec, code), label) for code in replaced
    ]
    return _subsets(fulfilments, frozenset(used)), label


def _maximal_sets(units: Sequence[_Unit]) -> list[list[_Unit]]:
    """All maximal conflict-free subsets of a (small) component, in a deterministic order."""
    if len(units) > _MAX_UNITS_PER_COMPONENT:
        return [_greedy(units)]
    results: list[list[_Unit]] = []

    def walk(index: int, chosen: list[_Unit]) -> None:
        if index == len(units):
            if all(any(u.conflicts(c) for c in chosen) for u in units if u not in chosen):
                results.append(list(chosen))
            return
        unit = units[index]
        if not any(unit.conflicts(c) for c in chosen):
            walk(index + 1, [*chosen, unit])
        walk(index + 1, chosen)

    walk(0, [])
    return results


def _greedy(units: Sequence[_Unit]) -> list[_Unit]:
    chosen: list[_Unit] = []
    for unit in units:
        if not any(unit.conflicts(c) for c in chosen):
            chosen.append(unit)
    return chosen


def _components(units: Sequence[_Unit]) -> list[list[_Unit]]:
    remaining = list(units)
    components: list[list[_Unit]] = []
    while remaining:
        component = [remaining.pop(0)]
        grew = True
        while grew:
            grew = False
            for unit in list(remaining):
                if any(unit.conflicts(c) for c in component):
                    component.append(unit)
                    remaining.remove(unit)
                    grew = True
        components.append(component)
    return components


def _assignments(units: Sequence[_Unit]) -> list[list[_Unit]]:
    """Candidate assignments: the product of each conflict component's maximal sets."""
    options = [_maximal_sets(component) for component in _components(units)]
    total = 1
    for option in options:
        total *= len(option)
    if total > _MAX_COMBINATIONS:
        return [_greedy(units)]
    return [[unit for part in combo for unit in part] for combo in product(*options)]


# --- evaluation ------------------------------------------------------------------------------


def _group_status(group: GroupSpec, spec: PlanSpec, met: Mapping[str, Fulfilment]) -> GroupStatus:
    done = sorted(
        (c for c in group.courses if c in met),
        key=lambda c: (-met[c].credits, spec.codes.index(c)),
    )
    counted = done[: group.max_courses] if group.max_courses is not None else done
    credits_done = sum(met[c].credits for c in counted)
    candidates = tuple(c for c in group.courses if c not in met)
    short_credits = max(0, group.min_credits - credits_done)
    need = max(0, group.min_courses - len(counted))
    room = (group.max_courses - len(counted)) if group.max_courses is not None else len(candidates)
    values = sorted((_credits(spec, c) for c in candidates), reverse=True)
    usable = min(room, len(values))
    while need < usable and sum(values[:need]) < short_credits:
        need += 1
    if sum(values[:need]) < short_credits and short_credits > 0:
        need = max(need, 1)  # cannot be closed by adding courses alone; still report a shortfall
    met_flag = len(counted) >= group.min_courses and credits_done >= group.min_credits
    counted_sorted = tuple(c for c in group.courses if c in counted)
    return GroupStatus(
        id=group.id,
        title=group.title,
        min_courses=group.min_courses,
        min_credits=group.min_credits,
        max_courses=group.max_courses,
        is_choice=group.is_choice,
        met=met_flag,
        counted=counted_sorted,
        courses_done=len(counted),
        credits_done=credits_done,
        short_courses=0 if met_flag else need,
        short_credits=short_credits,
        candidates=candidates,
    )


@dataclass(frozen=True)
class _Outcome:
    path: PathSpec
    units: tuple[_Unit, ...]
    met: dict[str, Fulfilment]
    groups: tuple[GroupStatus, ...]
    counted: frozenset[str]
    extras: tuple[Fulfilment, ...]
    missing_required: tuple[str, ...]
    thesis: tuple[str, ...]
    credits: Credits
    credits_short: Credits
    missing: int
    complete: bool

    @property
    def key(self) -> tuple[bool, int, Credits]:
        return (self.complete, -self.missing, self.credits)


def _extras(
    spec: PlanSpec,
    tables: Sequence[tuple[SubstitutionTable, str]],
    passed: Mapping[str, PassedCourse],
    consumed: frozenset[str],
) -> tuple[Fulfilment, ...]:
    """General rule 4/6: older-version courses without a substitution relation add credits."""
    extras: list[Fulfilment] = []
    for table, direction in tables:
        if direction != "forward":
            continue
        covered: set[str] = set()
        for row in table.rows:
            used = [c for c in row.old.theory if c in passed]
            if len(used) >= row.old.min:
                covered.update(row.old.theory)
                if row.old.practice:
                    covered.add(row.old.practice)
        for code, _credits_old in table.from_plan_courses:
            if code in passed and code not in consumed and code not in covered and spec.item(code) is None:
                course = passed[code]
                if all(e.code != code for e in extras):
                    extras.append(
                        Fulfilment(
                            code, VIA_EXTRA, (code,), (course.method,), course.credits, f"{table.id} rule 4"
                        )
                    )
    return tuple(extras)


def _evaluate(
    spec: PlanSpec,
    path: PathSpec,
    units: Sequence[_Unit],
    tables: Sequence[tuple[SubstitutionTable, str]],
    passed: Mapping[str, PassedCourse],
) -> _Outcome:
    met: dict[str, Fulfilment] = {}
    for unit in units:
        for fulfilment in unit.fulfilments:
            met[fulfilment.code] = fulfilment
    consumed = frozenset(code for unit in units for code in unit.consumes)
    groups = tuple(_group_status(spec.group(gid), spec, met) for gid in path.groups)
    counted = {i.code for i in spec.items if i.required and i.code in met}
    for group in groups:
        counted.update(group.counted)
    extras = _extras(spec, tables, passed, consumed)
    credits = sum(met[c].credits for c in counted) + sum(e.credits for e in extras)
    missing_required = tuple(
        i.code for i in spec.items if i.required and i.kind != "thesis" and i.code not in met
    )
    thesis = tuple(i.code for i in spec.items if i.required and i.kind == "thesis" and i.code not in met)
    missing = len(missing_required) + len(thesis) + sum(g.short_courses for g in groups)
    credits_short = max(0, path.min_total_credits - credits)
    complete = missing == 0 and credits_short == 0 and all(g.met for g in groups)
    return _Outcome(
        path,
        tuple(units),
        met,
        groups,
        frozenset(counted),
        extras,
        missing_required,
        thesis,
        credits,
        credits_short,
        missing,
        complete,
    )


def _order_groups(spec: PlanSpec, groups: Iterable[GroupStatus]) -> tuple[GroupStatus, ...]:
    def first_row(group: GroupStatus) -> int:
        return min((spec.codes.index(c) for c in (*group.counted, *group.candidates)), default=0)

    return tuple(sorted(groups, key=first_row))


def evaluate_plan(
    spec: PlanSpec,
    passed: Sequence[PassedCourse],
    *,
    substitutions: Sequence[SubstitutionTable] = (),
    politics: PoliticsRules | None = None,
) -> PlanEvaluation:
    """Audit `passed` (best valid pass per course) against `spec` and say what is met and how,
    and exactly what is missing. Pure and deterministic; see the module docstring for the rules.

    Substitution tables of other majors/levels/versions are ignored; a table is used forward
    when `spec` is its to-version and in reverse (reversible rows only) when it is its
    from-version.
    """
    by_code: dict[str, PassedCourse] = {}
    for course in passed:
        by_code.setdefault(course.code, course)

    units: list[_Unit] = []
    for item in spec.items:
        found = by_code.get(item.code)
        if found is not None:
            units.append(
                _Unit(
                    (Fulfilment(item.code, VIA_PASS, (found.code,), (found.method,), item.credits),),
                    frozenset({found.code}),
                )
            )
    tables: list[tuple[SubstitutionTable, str]] = []
    for table in substitutions:
        direction = _direction(spec, table)
        if direction is not None:
            tables.append((table, direction))
            units.extend(_table_units(spec, table, direction, by_code))
    politics_units, politics_label = _politics_units(spec, politics, by_code)
    units.extend(politics_units)

    assignments = _assignments(units)
    best_per_path: list[_Outcome] = []
    for path in spec.paths:
        best: _Outcome | None = None
        for assignment in assignments:
            outcome = _evaluate(spec, path, assignment, tables, by_code)
            if best is None or outcome.key > best.key:
                best = outcome
        assert best is not None
        best_per_path.append(best)
    chosen = best_per_path[0]
    for outcome in best_per_path[1:]:
        if outcome.key > chosen.key:
            chosen = outcome

    return _build(spec, chosen, best_per_path, by_code, politics_label)


def _build(
    spec: PlanSpec,
    chosen: _Outcome,
    per_path: Sequence[_Outcome],
    passed: Mapping[str, PassedCourse],
    politics_label: str | None,
) -> PlanEvaluation:
    met = chosen.met
    others_done = not chosen.missing_required and all(g.met for g in chosen.groups)
    thesis_codes = {i.code for i in spec.items if i.kind == "thesis"}
    met_count = sum(1 for f in met.values() if f.via != VIA_WAIVED and f.code not in thesis_codes)
    items: list[ItemStatus] = []
    practice_blocked: list[str] = []
    precondition_blocked: list[str] = []
    for item in spec.items:
        fulfilment = met.get(item.code)
        blocked = None if fulfilment is not None else _blocked(spec, item, met, met_count, others_done)
        if blocked == THEORY_NOT_PASSED:
            practice_blocked.append(item.code)
        elif blocked == PRECONDITION_NOT_MET:
            precondition_blocked.append(item.code)
        items.append(
            ItemStatus(
                row=item.row,
                code=item.code,
                name=item.name,
                kind=item.kind,
                credits=item.credits,
                groups=item.groups,
                required=item.required,
                degree=item.degree,
                practice_for=item.practice_for,
                met=fulfilment is not None,
                fulfilment=fulfilment,
                counted=item.code in chosen.counted,
                blocked=blocked,
            )
        )
    consumed = {code for unit in chosen.units for code in unit.consumes}
    used_codes = consumed | {e.code for e in chosen.extras}
    groups = _order_groups(spec, chosen.groups)
    applied_politics = politics_label if any(f.via == VIA_POLITICS for f in met.values()) else None
    return PlanEvaluation(
        plan=spec.key,
        complete=chosen.complete,
        path=chosen.path.id,
        paths=tuple(
            PathStatus(
                o.path.id,
                o.path.title,
                o.path.min_total_credits,
                o.complete,
                o.missing,
                o.credits,
                o.credits_short,
            )
            for o in per_path
        ),
        min_total_credits=chosen.path.min_total_credits,
        credits_earned=chosen.credits,
        credits_short=chosen.credits_short,
        items=tuple(items),
        groups=groups,
        missing_required=chosen.missing_required,
        open_choices=tuple(g for g in groups if g.is_choice and not g.met),
        short_groups=tuple(g for g in groups if not g.is_choice and not g.met),
        thesis=chosen.thesis,
        thesis_allowed=others_done,
        practice_blocked=tuple(practice_blocked),
        precondition_blocked=tuple(precondition_blocked),
        extras=chosen.extras,
        politics_rule=applied_politics,
        unused=tuple(sorted(code for code in passed if code not in used_codes)),
    )


def _blocked(
    spec: PlanSpec, item: PlanItemSpec, met: Mapping[str, Fulfilment], met_count: int, others_done: bool
) -> str | None:
    """Why an unmet item may not be entered yet (None: it may)."""
    if item.kind == "thesis":
        return None if others_done else THESIS_NOT_YET
    if item.practice_for is not None and item.practice_for not in met:
        return THEORY_NOT_PASSED
    if item.min_passed_courses is not None and met_count < item.min_passed_courses:
        return PRECONDITION_NOT_MET
    return None


def entry_eligibility(
    spec: PlanSpec,
    passed: Sequence[PassedCourse],
    *,
    substitutions: Sequence[SubstitutionTable] = (),
    politics: PoliticsRules | None = None,
) -> dict[str, str | None]:
    """For every course of the plan (row order): None if the candidate may enter it now, else a
    reason code — ALREADY_PASSED, ALREADY_CREDITED (met by substitution / politics rule),
    NOT_REQUIRED (a waived practice part), THEORY_NOT_PASSED (practice before its theory),
    THESIS_NOT_YET (thesis before every other requirement is met), PRECONDITION_NOT_MET
    (e.g. 590202's 14105 before ≥10 courses of the plan are met)."""
    evaluation = evaluate_plan(spec, passed, substitutions=substitutions, politics=politics)
    result: dict[str, str | None] = {}
    for item in evaluation.items:
        fulfilment = item.fulfilment
        if fulfilment is None:
            result[item.code] = item.blocked
        elif fulfilment.via == VIA_PASS:
            result[item.code] = ALREADY_PASSED
        elif fulfilment.via == VIA_WAIVED:
            result[item.code] = NOT_REQUIRED
        else:
            result[item.code] = ALREADY_CREDITED
    return result


def side_codes(side: SubstitutionSide) -> tuple[str, ...]:
    """All course codes of a table side (theory first, then the practice part)."""
    return (*side.theory, *((side.practice,) if side.practice else ()))


def row_codes(row: SubstitutionRow) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(old codes, new codes) of a table row — for display and the admin."""
    return side_codes(row.old), side_codes(row.new)


# --- sittings (考次) and their timetable ------------------------------------------------------
#
# Pure checks for the office's sitting and timetable pages (catalog.services calls them with
# plain values). Each refusal is a `Refusal` with a stable code and the form field it belongs to.

SLOT_CODES = ("SAT_AM", "SAT_PM", "SUN_AM", "SUN_PM")
# (code, day offset from the first day, start, end): domain.md, Sat AM 09:00–11:30 …
DEFAULT_SLOT_TIMES = (
    ("SAT_AM", 0, time(9, 0), time(11, 30)),
    ("SAT_PM", 0, time(14, 30), time(17, 0)),
    ("SUN_AM", 1, time(9, 0), time(11, 30)),
    ("SUN_PM", 1, time(14, 30), time(17, 0)),
)
SLOT_LABELS = {
    "SAT_AM": _("周六上午"),
    "SAT_PM": _("周六下午"),
    "SUN_AM": _("周日上午"),
    "SUN_PM": _("周日下午"),
}
REVIEW_CLOSES_AT = time(17, 0)
_SITTING_LABEL_RE = re.compile(r"^20\d{2}(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Refusal:
    """One reason a rule says no: stable code, the form field it concerns ("" = the whole
    form), and a translatable message."""

    code: str
    field: str
    message: str


@dataclass(frozen=True)
class SittingDraft:
    """A sitting as entered: label, first exam day, the slots (code, start, end: aware
    datetimes), and the optional entry window, release time and review deadline."""

    label: str
    first_day: date
    slots: tuple[tuple[str, datetime, datetime], ...]
    entry_opens_at: datetime | None = None
    entry_closes_at: datetime | None = None
    release_at: datetime | None = None
    review_closes_at: datetime | None = None

    @property
    def first_slot_starts_at(self) -> datetime | None:
        return min((start for _code, start, _end in self.slots), default=None)

    @property
    def last_slot_ends_at(self) -> datetime | None:
        return max((end for _code, _start, end in self.slots), default=None)


def default_slots(first_day: date, tz: tzinfo) -> tuple[tuple[str, datetime, datetime], ...]:
    """The four slots of a sitting whose first exam day (a Saturday) is `first_day`."""
    return tuple(
        (
            code,
            datetime.combine(first_day + timedelta(days=offset), start, tzinfo=tz),
            datetime.combine(first_day + timedelta(days=offset), end, tzinfo=tz),
        )
        for code, offset, start, end in DEFAULT_SLOT_TIMES
    )


def add_working_days(day: date, days: int) -> date:
    """`day` plus `days` working days (Monday–Friday; public holidays are not known here)."""
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def default_review_closes_at(release_at: datetime, working_days: int, tz: tzinfo) -> datetime:
    """The review deadline the province policy implies: 17:00 on the `working_days`-th working
    day after the release day."""
    day = add_working_days(release_at.astimezone(tz).date(), working_days)
    return datetime.combine(day, REVIEW_CLOSES_AT, tzinfo=tz)


def sitting_problems(draft: SittingDraft, *, tz: tzinfo) -> list[Refusal]:
    """Everything wrong with a sitting as entered (empty list: acceptable), in form order.

    Codes: SITTING_LABEL_FORMAT (not YYYYMM), SITTING_LABEL_MISMATCH (label is not the first
    day's year and month), SITTING_SLOTS_INCOMPLETE (not exactly the four slots),
    SITTING_SLOT_ORDER (a slot ends before it starts), SITTING_SLOT_OVERLAP (a slot starts
    before the previous one ends), SITTING_FIRST_DAY_MISMATCH (the first slot is not on the
    first day), SITTING_ENTRY_WINDOW_INCOMPLETE (only one end of the entry window),
    SITTING_ENTRY_WINDOW_ORDER (opens at or after it closes), SITTING_ENTRY_AFTER_EXAM (closes
    at or after the first slot starts), SITTING_RELEASE_BEFORE_EXAM_END (release at or before
    the last slot ends), SITTING_REVIEW_WITHOUT_RELEASE, SITTING_REVIEW_BEFORE_RELEASE
    (review closes at or before release).
    """
    problems: list[Refusal] = []
    if not _SITTING_LABEL_RE.match(draft.label or ""):
        problems.append(Refusal("SITTING_LABEL_FORMAT", "label", str(_("考次应为YYYYMM格式(如202610)。"))))
    elif draft.label != f"{draft.first_day.year}{draft.first_day.month:02d}":
        problems.append(
            Refusal(
                "SITTING_LABEL_MISMATCH",
                "first_day",
                str(_("首考日 %(day)s 不在考次 %(label)s 所示的年月内。"))
                % {"day": draft.first_day.isoformat(), "label": draft.label},
            )
        )
    codes = [code for code, _start, _end in draft.slots]
    if sorted(codes) != sorted(SLOT_CODES):
        problems.append(
            Refusal(
                "SITTING_SLOTS_INCOMPLETE",
                "",
                str(_("考次须有且仅有四个时段: %(codes)s。")) % {"codes": "、".join(SLOT_CODES)},
            )
        )
        return problems
    by_code = {code: (start, end) for code, start, end in draft.slots}
    ordered_ok = True
    for code in SLOT_CODES:
        start, end = by_code[code]
        if end <= start:
            ordered_ok = False
            problems.append(
                Refusal(
                    "SITTING_SLOT_ORDER",
                    f"{code.lower()}_ends_at",
                    str(_("%(slot)s 的结束时间须晚于开始时间。")) % {"slot": SLOT_LABELS[code]},
                )
            )
    for previous, code in pairwise(SLOT_CODES):
        if by_code[code][0] < by_code[previous][1]:
            ordered_ok = False
            problems.append(
                Refusal(
                    "SITTING_SLOT_OVERLAP",
                    f"{code.lower()}_starts_at",
                    str(_("%(slot)s 须在 %(previous)s 结束之后开始。"))
                    % {"slot": SLOT_LABELS[code], "previous": SLOT_LABELS[previous]},
                )
            )
    first_start = by_code[SLOT_CODES[0]][0]
    if ordered_ok and first_start.astimezone(tz).date() != draft.first_day:
        problems.append(
            Refusal(
                "SITTING_FIRST_DAY_MISMATCH",
                "first_day",
                str(_("首考日须为第一个时段(%(slot)s)的日期 %(day)s。"))
                % {"slot": SLOT_LABELS[SLOT_CODES[0]], "day": first_start.astimezone(tz).date().isoformat()},
            )
        )
    first_slot = draft.first_slot_starts_at
    last_slot = draft.last_slot_ends_at
    assert first_slot is not None and last_slot is not None
    opens, closes = draft.entry_opens_at, draft.entry_closes_at
    if (opens is None) != (closes is None):
        problems.append(
            Refusal(
                "SITTING_ENTRY_WINDOW_INCOMPLETE",
                "entry_closes_at" if closes is None else "entry_opens_at",
                str(_("报考开始与截止时间须同时填写。")),
            )
        )
    elif opens is not None and closes is not None:
        if opens >= closes:
            problems.append(
                Refusal(
                    "SITTING_ENTRY_WINDOW_ORDER", "entry_closes_at", str(_("报考截止时间须晚于开始时间。"))
                )
            )
        if closes >= first_slot:
            problems.append(
                Refusal(
                    "SITTING_ENTRY_AFTER_EXAM",
                    "entry_closes_at",
                    str(_("报考须在第一个时段开考(%(start)s)之前截止。"))
                    % {"start": _display(first_slot, tz)},
                )
            )
    release = draft.release_at
    if release is not None and release <= last_slot:
        problems.append(
            Refusal(
                "SITTING_RELEASE_BEFORE_EXAM_END",
                "release_at",
                str(_("成绩发布时间须晚于最后一个时段结束(%(end)s)。")) % {"end": _display(last_slot, tz)},
            )
        )
    review = draft.review_closes_at
    if review is not None and release is None:
        problems.append(
            Refusal("SITTING_REVIEW_WITHOUT_RELEASE", "review_closes_at", str(_("请先设定成绩发布时间。")))
        )
    elif review is not None and release is not None and review <= release:
        problems.append(
            Refusal(
                "SITTING_REVIEW_BEFORE_RELEASE",
                "review_closes_at",
                str(_("复查截止时间须晚于成绩发布时间。")),
            )
        )
    return problems


def sitting_change_problems(
    before: SittingDraft,
    after: SittingDraft,
    *,
    effective_release_at: datetime | None,
    now: datetime,
) -> list[Refusal]:
    """What may no longer change on an existing sitting (besides `sitting_problems(after)`).

    Codes: SITTING_LABEL_IMMUTABLE (the label is the sitting's name on every record),
    SITTING_SLOTS_LOCKED (first day and slot times once the first slot has started: the exam
    happened), SITTING_ENTRY_WINDOW_LOCKED (the opening time once entry has opened — the closing
    time may still be extended while it is open —, and both once entry has closed),
    SITTING_RELEASE_LOCKED (the release time once scores are released, i.e.
    `effective_release_at <= now`: moving or publishing is the publication page's work),
    SITTING_RELEASE_IN_PAST (a changed release time that is not in the future would publish
    the scores from this form).
    """
    problems: list[Refusal] = []
    if after.label != before.label:
        problems.append(Refusal("SITTING_LABEL_IMMUTABLE", "label", str(_("考次创建后不能更改。"))))
    started = before.first_slot_starts_at is not None and before.first_slot_starts_at <= now
    if started and (after.first_day != before.first_day or sorted(after.slots) != sorted(before.slots)):
        problems.append(
            Refusal("SITTING_SLOTS_LOCKED", "first_day", str(_("该考次已开考,首考日和时段时间不能再更改。")))
        )
    opened = before.entry_opens_at is not None and before.entry_opens_at <= now
    closed = before.entry_closes_at is not None and before.entry_closes_at <= now
    if closed and (after.entry_opens_at, after.entry_closes_at) != (
        before.entry_opens_at,
        before.entry_closes_at,
    ):
        problems.append(
            Refusal(
                "SITTING_ENTRY_WINDOW_LOCKED", "entry_closes_at", str(_("报考已截止,报考时间不能再更改。"))
            )
        )
    elif opened and after.entry_opens_at != before.entry_opens_at:
        problems.append(
            Refusal(
                "SITTING_ENTRY_WINDOW_LOCKED",
                "entry_opens_at",
                str(_("报考已开始,报考开始时间不能再更改(截止时间仍可调整)。")),
            )
        )
    released = effective_release_at is not None and effective_release_at <= now
    if after.release_at != before.release_at:
        if released:
            problems.append(
                Refusal(
                    "SITTING_RELEASE_LOCKED",
                    "release_at",
                    str(_("该考次成绩已发布,发布时间不能在此更改(请到成绩发布页面办理)。")),
                )
            )
        elif after.release_at is not None and after.release_at <= now:
            problems.append(
                Refusal("SITTING_RELEASE_IN_PAST", "release_at", str(_("发布时间须晚于当前时间。")))
            )
    return problems


def new_sitting_problems(draft: SittingDraft, *, now: datetime) -> list[Refusal]:
    """A new sitting's release time must be in the future (SITTING_RELEASE_IN_PAST): a time
    already past would publish its scores the moment they are recorded."""
    if draft.release_at is not None and draft.release_at <= now:
        return [Refusal("SITTING_RELEASE_IN_PAST", "release_at", str(_("发布时间须晚于当前时间。")))]
    return []


def _display(instant: datetime, tz: tzinfo) -> str:
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class PlanCourses:
    """The courses of one plan, for clash detection: a label for people, the course codes, and
    the (theory, practice) pairs of its practice parts."""

    label: str
    codes: frozenset[str]
    pairs: frozenset[tuple[str, str]] = frozenset()


CLASH_PLAN = "plan"
CLASH_PAIR = "pair"


@dataclass(frozen=True)
class Clash:
    """Two courses in one slot that a candidate of each listed plan might need to sit.

    `kind` is "pair" when the two are a theory course and its own practice part (in some
    plan), else "plan".
    """

    slot: str
    courses: tuple[str, str]
    plans: tuple[str, ...]
    kind: str


def timetable_clashes(
    assignment: Mapping[str, str],
    plans: Sequence[PlanCourses],
    *,
    involving: Iterable[str] | None = None,
) -> list[Clash]:
    """Clashes of a timetable (course code → slot code): two courses of the same plan in the
    same slot (a candidate of that plan could not sit both). One `Clash` per pair of courses,
    listing every plan that has both (in the order of `plans`); with `involving`, only clashes
    in which at least one of those courses takes part. Sorted by slot (SAT_AM … SUN_PM), then
    by course codes.
    """
    only = set(involving) if involving is not None else None
    by_slot: dict[str, list[str]] = {}
    for code, slot in assignment.items():
        by_slot.setdefault(slot, []).append(code)
    found: dict[tuple[str, tuple[str, str]], tuple[list[str], bool]] = {}
    for plan in plans:
        for slot, codes in by_slot.items():
            mine = sorted(code for code in codes if code in plan.codes)
            for first, second in combinations(mine, 2):
                if only is not None and first not in only and second not in only:
                    continue
                labels, _paired = found.setdefault((slot, (first, second)), ([], False))
                if plan.label not in labels:
                    labels.append(plan.label)
                if (first, second) in plan.pairs or (second, first) in plan.pairs:
                    found[(slot, (first, second))] = (labels, True)
    order = {code: index for index, code in enumerate(SLOT_CODES)}
    return [
        Clash(slot, courses, tuple(labels), CLASH_PAIR if paired else CLASH_PLAN)
        for (slot, courses), (labels, paired) in sorted(
            found.items(), key=lambda item: (order.get(item[0][0], len(order)), item[0][0], item[0][1])
        )
    ]
