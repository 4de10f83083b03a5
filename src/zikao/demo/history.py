"""A candidate's years of sittings, simulated: entries, results, absences, gaps, violations,
exemptions, transfers and graduation. Pure Python on plain data (no database), so it is fast,
testable and a function of its `random.Random` alone.

Rules the simulation keeps (domain.md): at most one theory course per slot and at most
`max_per_sitting` entries per sitting; a course is only entered where the timetable offers it
and until it is passed; a practice item only after its theory course was passed at an earlier
sitting (practice and thesis are assessed by the school at April/October sittings, off the
province timetable); the thesis only once every other item is passed; nothing is entered while
a suspension runs; a violation voids the course or the whole sitting; an exemption needs one
local pass first and never covers the thesis.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from zikao.demo.people import WeightedPicker
from zikao.demo.plans import PRACTICE, THEORY, THESIS, Variant

VALID, ABSENT, VOID, WITHHELD = "valid", "absent", "void", "withheld"
PASS_GRADES = WeightedPicker(["优秀", "良好", "中等", "合格"], [10, 30, 35, 25])
FAIL_GRADE = "不合格"
LOAD = WeightedPicker([1, 2, 3, 4], [25, 35, 25, 15])
PROVINCES = WeightedPicker(
    ["安徽省", "浙江省", "上海市", "山东省", "河南省", "广东省", "湖北省", "江西省"],
    [30, 20, 15, 12, 8, 6, 5, 4],
)
VIOLATION_KINDS = WeightedPicker(
    ["rule_breach", "cheating", "serious_cheating", "organised_cheating"], [52, 33, 13, 2]
)

P_TRANSFER_IN = 0.02
P_TRANSFER_OUT_PER_SITTING = 0.002
P_VIOLATION_PER_SITTING = 0.003
P_CET_EXEMPTION = 0.10
P_NCRE_EXEMPTION = 0.85
P_WITHHELD_LAST_SITTING = 0.004


@dataclass(frozen=True)
class SittingView:
    index: int
    label: str
    main: bool
    first_day: date
    release_day: date
    offered: frozenset[int]


@dataclass
class Context:
    sittings: list[SittingView]
    slot_of: dict[int, int]
    as_of: date
    max_per_sitting: int = 4
    local_passes_zhuanke: int = 5
    local_passes_benke: int = 4


@dataclass
class Profile:
    ability: float
    enter_main: float
    enter_minor: float
    quit_rate: float
    absent_rate: float


@dataclass
class Forces:
    """Steering for the showcase candidates (everything else is left to chance)."""

    enter_all: bool = False
    stop_remaining: int | None = None
    violation: tuple[str, str, int] | None = None  # (sitting label, kind, suspension years or 0)
    withheld_last: bool = False
    cet_exemption: bool = False
    transfer_in: bool = False
    transfer_out: str | None = None  # sitting label after which the record moves away
    quiet: bool = False  # no random violation, transfer or withholding


@dataclass
class Attempt:
    sitting: int
    item: int
    value: int | None
    grade: str
    status: str


@dataclass
class ViolationEvent:
    sitting: int
    kind: str
    penalty: str
    item: int | None
    suspension: str
    years: int | None
    starts: date | None
    ends: date | None


@dataclass
class ExemptionEvent:
    sitting: int  # requested after the previous sitting's release, decided before this sitting's entry
    basis: str
    detail: str
    items: list[int]
    certificate: str


@dataclass
class TransferInEvent:
    from_province: str
    from_candidate_no: str
    courses: list[tuple[int, int, str]]  # (item, value, remote sitting label)


@dataclass
class TransferOutEvent:
    sitting: int
    to_province: str
    items: list[int]


@dataclass
class History:
    attempts: list[Attempt] = field(default_factory=list)
    violations: list[ViolationEvent] = field(default_factory=list)
    exemptions: list[ExemptionEvent] = field(default_factory=list)
    transfer_in: TransferInEvent | None = None
    transfer_out: TransferOutEvent | None = None
    remaining: int = 0
    completed_on: date | None = None
    local_exam_passes: int = 0
    suspended_until: date | None = None
    graduation: tuple[int, int] | None = None  # (year, half)


def random_profile(rng: random.Random) -> Profile:
    """Three kinds of candidate, as in real registration data: many try a sitting or two and
    stop; a steady middle keeps going with gaps; a committed few sit every sitting and finish."""
    roll = rng.random()
    if roll < 0.47:  # tries it out
        ability, enter_main, quit_rate = rng.gauss(0.5, 0.14), rng.gauss(0.75, 0.15), 0.4
    elif roll < 0.77:  # steady, with gaps
        ability, enter_main, quit_rate = (
            rng.gauss(0.62, 0.12),
            rng.gauss(0.8, 0.12),
            rng.choice((0.03, 0.05, 0.08)),
        )
    else:  # committed
        ability, enter_main, quit_rate = rng.gauss(0.74, 0.1), rng.gauss(0.95, 0.05), 0.01
    enter_main = min(1.0, max(0.3, enter_main))
    return Profile(
        ability=min(0.95, max(0.15, ability)),
        enter_main=enter_main,
        enter_minor=enter_main * 0.45,
        quit_rate=quit_rate,
        absent_rate=min(0.35, max(0.01, rng.gauss(0.08, 0.05))),
    )


def _theory_value(rng: random.Random, passes: bool) -> int:
    if passes:
        return 60 + min(40, int(abs(rng.gauss(0, 11))))
    return max(0, 59 - int(abs(rng.gauss(0, 13))))


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def simulate(
    ctx: Context,
    rng: random.Random,
    variant: Variant,
    reg_index: int,
    profile: Profile,
    forces: Forces | None = None,
) -> History:
    """Play one candidate's sittings from registration to the last sitting (or until they stop)."""
    forces = forces or Forces()
    kinds, pair, course_ids = variant.kinds, variant.pair, variant.course_ids
    exemption_only, difficulty = variant.exemption_only, variant.difficulty
    n_items = len(course_ids)
    passed: list[int | None] = [None] * n_items  # sitting index at which the item was passed
    passed_on: list[date | None] = [None] * n_items
    remaining = n_items
    h = History()
    sittings = ctx.sittings
    last = len(sittings) - 1
    slot_of = ctx.slot_of
    quiet = forces.quiet

    # 接考: a record arriving from another province at registration, with 2–5 theory courses.
    if forces.transfer_in or (not quiet and reg_index >= 2 and rng.random() < P_TRANSFER_IN):
        theory = [i for i in range(n_items) if kinds[i] == THEORY and not exemption_only[i]]
        chosen = sorted(rng.sample(theory, min(len(theory), rng.randint(2, 5))))
        arrival = sittings[reg_index].first_day - timedelta(days=75)
        remote = []
        for i in chosen:
            back = rng.randint(1, 6)
            year, month = arrival.year - (back + 1) // 2, 4 if back % 2 else 10
            remote.append((i, 60 + min(35, int(abs(rng.gauss(0, 12)))), f"{year}{month:02d}"))
            passed[i] = -1
            passed_on[i] = arrival
            remaining -= 1
        h.transfer_in = TransferInEvent(
            PROVINCES.pick(rng), f"{rng.randint(10, 99)}{rng.randrange(10**10):010d}", remote
        )

    want_cet = bool(variant.cet_items) and (
        forces.cet_exemption or (not quiet and rng.random() < P_CET_EXEMPTION)
    )
    want_ncre = bool(variant.ncre_items) and rng.random() < P_NCRE_EXEMPTION
    suspended_until: date | None = None
    theory_passed = sum(1 for i in range(n_items) if passed[i] is not None and kinds[i] == THEORY)
    forced_violation = forces.violation

    for s in range(reg_index, last + 1):
        sv = sittings[s]
        if suspended_until is not None and sv.first_day < suspended_until:
            continue
        if h.local_exam_passes and (want_cet or want_ncre):
            for wanted, items, basis, detail, certificate in (
                (
                    want_cet,
                    variant.cet_items,
                    "certificate",
                    f"CET-4 {rng.randint(425, 610)}分",
                    f"CET4-{rng.randrange(10**15):015d}",
                ),
                (
                    want_ncre,
                    variant.ncre_items,
                    "certificate",
                    "全国计算机等级考试一级",
                    f"NCRE-{rng.randrange(10**15):015d}",
                ),
            ):
                todo = [i for i in items if passed[i] is None]
                if wanted and todo:
                    h.exemptions.append(ExemptionEvent(s, basis, detail, todo, certificate))
                    for i in todo:
                        passed[i] = s - 1
                        passed_on[i] = sittings[s - 1].release_day + timedelta(days=20)
                        remaining -= 1
                        theory_passed += kinds[i] == THEORY
            want_cet = want_ncre = False
        if forces.stop_remaining is not None and remaining <= forces.stop_remaining:
            break
        p_enter = 1.0 if forces.enter_all else (profile.enter_main if sv.main else profile.enter_minor)
        if forces.withheld_last and s == last:
            p_enter = 1.0
        if rng.random() >= p_enter:
            continue
        by_slot: list[list[int]] = [[], [], [], []]
        school_run: list[int] = []
        offered = sv.offered
        for i in range(n_items):
            if passed[i] is not None or exemption_only[i]:
                continue
            kind = kinds[i]
            if kind == THEORY:
                cid = course_ids[i]
                if cid in offered:
                    by_slot[slot_of[cid]].append(i)
            elif not sv.main:
                continue
            elif kind == PRACTICE:
                p = pair[i]
                theory_sitting = passed[p] if p >= 0 else None
                if (theory_sitting is not None and theory_sitting < s) or (
                    p == -2 and theory_passed >= variant.theory_needed_for_unpaired
                ):
                    school_run.append(i)
            elif remaining == 1:
                school_run.append(i)  # the thesis, every other item passed at an earlier sitting
        pool = [rng.choice(options) for options in by_slot if options] + school_run
        if not pool:
            continue
        want = ctx.max_per_sitting if forces.enter_all else min(LOAD.pick(rng), ctx.max_per_sitting)
        chosen = rng.sample(pool, want) if len(pool) > want else pool
        chosen.sort()
        results: list[Attempt] = []
        for i in chosen:
            if rng.random() < profile.absent_rate and not (forces.withheld_last and s == last):
                results.append(Attempt(s, i, None, "", ABSENT))
                continue
            kind = kinds[i]
            if kind == THEORY:
                value = _theory_value(rng, rng.random() < profile.ability * difficulty[i])
                results.append(Attempt(s, i, value, "", VALID))
            else:
                rate = 0.85 if kind == PRACTICE else 0.78
                grade = PASS_GRADES.pick(rng) if rng.random() < rate else FAIL_GRADE
                results.append(Attempt(s, i, None, grade, VALID))
        sat = [r for r in results if r.status != ABSENT]
        violation_kind = None
        years = 0
        if forced_violation is not None and forced_violation[0] == sv.label and sat:
            violation_kind, years = forced_violation[1], forced_violation[2]
        elif not quiet and sat and rng.random() < P_VIOLATION_PER_SITTING:
            violation_kind = VIOLATION_KINDS.pick(rng)
            if violation_kind == "serious_cheating":
                years = rng.randint(1, 3)
            elif violation_kind == "organised_cheating":
                years = 3
        if violation_kind is not None:
            if violation_kind == "rule_breach":
                target = rng.choice(sat)
                target.value, target.grade, target.status = None, "", VOID
                penalty, item = "void_course", target.item
            else:
                for r in sat:
                    r.value, r.grade, r.status = None, "", VOID
                penalty, item = "void_sitting", None
            suspension = ""
            starts = ends = None
            if years:
                suspension = "all_national" if violation_kind == "organised_cheating" else "zikao"
                starts = sv.first_day
                ends = add_years(starts, years)
                suspended_until = ends
            h.violations.append(
                ViolationEvent(s, violation_kind, penalty, item, suspension, years or None, starts, ends)
            )
        if s == last:
            valid = [r for r in results if r.status == VALID]
            if valid and forces.withheld_last:
                valid[0].status = WITHHELD
            elif not quiet:
                for r in valid:
                    if rng.random() < P_WITHHELD_LAST_SITTING:
                        r.status = WITHHELD
        for r in results:
            if r.status == VALID and (
                (r.value is not None and r.value >= 60) or (r.grade and r.grade != FAIL_GRADE)
            ):
                passed[r.item] = s
                passed_on[r.item] = sv.release_day
                remaining -= 1
                h.local_exam_passes += 1
                theory_passed += kinds[r.item] == THEORY
        h.attempts.extend(results)
        if remaining == 0:
            break
        if (
            s < last
            and h.local_exam_passes
            and h.transfer_in is None
            and suspended_until is None
            and (forces.transfer_out == sv.label or (not quiet and rng.random() < P_TRANSFER_OUT_PER_SITTING))
        ):
            moved = sorted(
                {
                    a.item
                    for a in h.attempts
                    if a.status == VALID and passed[a.item] == a.sitting and kinds[a.item] != THESIS
                }
            )
            h.transfer_out = TransferOutEvent(s, PROVINCES.pick(rng), moved)
            break
        if not forces.enter_all and forces.stop_remaining is None and rng.random() < profile.quit_rate:
            break

    h.remaining = remaining
    h.suspended_until = suspended_until
    if remaining == 0:
        h.completed_on = max(d for d in passed_on if d is not None)
    return h


def graduation_round(
    ctx: Context,
    rng: random.Random,
    h: History,
    *,
    level: str,
    diploma_verified: bool,
    graduate_until: date | None,
    eager: bool = False,
) -> tuple[int, int] | None:
    """The (year, half) round in which a candidate who completed the plan graduated, if any.

    Rounds are June and December; the application follows completion by at least 45 days;
    most apply at the first round, some later. Refused: 本科 without a verified diploma, a
    running suspension, a transfer-in without enough local passes, a superseded plan after
    its transition period, or no round before the demo's as-of date.
    """
    if h.completed_on is None or h.transfer_out is not None:
        return None
    if level == "benke" and not diploma_verified:
        return None
    if h.transfer_in is not None:
        need = ctx.local_passes_benke if level == "benke" else ctx.local_passes_zhuanke
        if h.local_exam_passes < need:
            return None
    earliest = h.completed_on + timedelta(days=45)
    year = earliest.year
    rounds = [(y, half) for y in range(year, ctx.as_of.year + 1) for half in (1, 2)]
    skip = 0 if eager else (0 if rng.random() < 0.85 else (1 if rng.random() < 0.7 else 99))
    for y, half in rounds:
        day = date(y, 6, 30) if half == 1 else date(y, 12, 31)
        if day < earliest or day > ctx.as_of:
            continue
        if graduate_until is not None and day > graduate_until:
            return None
        if h.suspended_until is not None and day < h.suspended_until:
            continue
        if skip:
            skip -= 1
            continue
        return (y, half)
    return None
