"""What the demo needs to know about the real plans: which courses a candidate takes, and when
each course is on the timetable.

The plans come from the database (PlanItem rows loaded by catalog_load_reference_data). A plan's
choice groups are written in words, so the demo picks a candidate's courses by the codes it
recognises in the six shipped plans (documented below) and falls back to "first item of each
group" for any group it does not know, which always gives a selection the plan lists.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass, field
from datetime import date

from zikao.demo.people import WeightedPicker

THEORY, PRACTICE, THESIS = 0, 1, 2
KIND_CODES = {"theory": THEORY, "practice": PRACTICE, "thesis": THESIS}

# 00018/00019 计算机应用基础 are not examined province-wide; candidates are exempted by NCRE
# level 1 (or two NIT certificates) — handbook 编写说明 三(三). Never on the timetable.
EXEMPTION_ONLY = frozenset({"00018", "00019"})
NCRE_EXEMPTS = EXEMPTION_ONLY
# CET-4 (≥ 425) exempts the English course of a plan (province table; 免考实施细则).
CET4_EXEMPTS = frozenset({"00015", "13000", "13124"})
# Courses first examined at a later sitting than their plan: 04751 from 2026-10 (苏教考自〔2025〕18号).
FIRST_OFFERED = {"04751": "202610"}
# Default cut-over between the 2021 and 2024 plan versions (handbook 编写说明: 2024-07 … 2026-06).
DEFAULT_CUTOVER = date(2024, 7, 1)
DEFAULT_OLD_GRADUATE_UNTIL = date(2026, 6, 30)
# Harder courses pass less often (a multiplier on a candidate's pass probability).
DIFFICULTY = {"00023": 0.72, "13000": 0.8, "00015": 0.78, "13125": 0.8, "04184": 0.82, "02324": 0.85}


@dataclass(frozen=True)
class ItemView:
    course_id: int
    code: str
    name: str
    kind: int
    credits: int
    required: bool
    group: str
    practice_for_id: int | None
    row: int


@dataclass
class PlanView:
    plan_id: int
    major_id: int
    major_code: str
    major_name: str
    level: str
    version: int
    items: list[ItemView]
    effective_from: date | None
    graduate_until: date | None
    old_candidates_registered_before: date | None
    variants: WeightedPicker | None = field(default=None, repr=False)

    @property
    def superseded(self) -> bool:
        return self.old_candidates_registered_before is not None or self.graduate_until is not None


@dataclass(frozen=True)
class Variant:
    """One way of completing a plan: the items a candidate takes, in plan order, as flat tuples."""

    plan: PlanView
    course_ids: tuple[int, ...]
    codes: tuple[str, ...]
    names: tuple[str, ...]
    credits: tuple[int, ...]
    kinds: tuple[int, ...]
    pair: tuple[int, ...]  # practice: index of its theory item; -2: "after enough theory passes"; -1: none
    exemption_only: tuple[bool, ...]
    difficulty: tuple[float, ...]
    cet_items: tuple[int, ...]
    ncre_items: tuple[int, ...]
    theory_needed_for_unpaired: int


def course_difficulty(code: str) -> float:
    if code in DIFFICULTY:
        return DIFFICULTY[code]
    # A stable per-course jitter (crc32, not hash(): str hashes change between runs).
    return 0.9 + (zlib.crc32(code.encode()) % 21) / 100


def _variant(plan: PlanView, items: list[ItemView]) -> Variant:
    items = sorted(items, key=lambda i: i.row)
    index_of = {it.course_id: n for n, it in enumerate(items)}
    pair = []
    for it in items:
        if it.kind != PRACTICE:
            pair.append(-1)
        elif it.practice_for_id is not None and it.practice_for_id in index_of:
            pair.append(index_of[it.practice_for_id])
        else:
            pair.append(-2)
    theory_count = sum(1 for it in items if it.kind == THEORY)
    return Variant(
        plan=plan,
        course_ids=tuple(it.course_id for it in items),
        codes=tuple(it.code for it in items),
        names=tuple(it.name for it in items),
        credits=tuple(it.credits for it in items),
        kinds=tuple(it.kind for it in items),
        pair=tuple(pair),
        exemption_only=tuple(it.code in EXEMPTION_ONLY for it in items),
        difficulty=tuple(course_difficulty(it.code) for it in items),
        cet_items=tuple(n for n, it in enumerate(items) if it.code in CET4_EXEMPTS),
        ncre_items=tuple(n for n, it in enumerate(items) if it.code in NCRE_EXEMPTS),
        # 590202's 14105 may be entered only after ≥ 10 courses of the major are passed.
        theory_needed_for_unpaired=min(10, theory_count),
    )


def plan_variants(plan: PlanView) -> WeightedPicker:
    """The ways a candidate completes `plan`, with how often each is chosen.

    Known choice groups (by course codes): 080901-2021 foreign language (00015 mostly; 27016/
    27017/27018; or the three 不考外语者 courses 00054+00321+27108); 050101 (13000 or 14970 plus
    three electives of ≥ 14 credits, or no foreign language and all five electives); 080901-2024
    network course (13017, or 04751 examined from 2026-10). Unknown groups: first item by row.
    """
    required = [it for it in plan.items if it.required]
    optional = [it for it in plan.items if not it.required]
    by_code = {it.code: it for it in optional}
    choices: list[tuple[list[ItemView], float]] = []
    known = set(by_code)
    if {"00015", "27016", "27017", "27018", "00054", "00321", "27108"} <= known:
        for codes, weight in (
            (("00015",), 0.82),
            (("27016",), 0.04),
            (("27017",), 0.01),
            (("27018",), 0.01),
            (("00054", "00321", "27108"), 0.12),
        ):
            choices.append(([by_code[c] for c in codes], weight))
        handled = {"00015", "27016", "27017", "27018", "00054", "00321", "27108"}
    elif {"13000", "14970", "03954", "07827", "10398", "14025", "00814"} <= known:
        electives = [by_code[c] for c in ("03954", "07827", "10398", "14025", "00814")]
        combos = [list(c) for c in itertools.combinations(electives, 3) if sum(i.credits for i in c) >= 14]
        for lang, weight in (("13000", 0.70), ("14970", 0.05)):
            for combo in combos:
                choices.append(([by_code[lang], *combo], weight / len(combos)))
        choices.append((electives, 0.25))
        handled = {"13000", "14970", "03954", "07827", "10398", "14025", "00814"}
    elif {"13017", "04751"} <= known:
        choices = [([by_code["13017"]], 0.85), ([by_code["04751"]], 0.15)]
        handled = {"13017", "04751"}
    else:
        handled = set()
    extra: list[ItemView] = []
    groups: dict[str, list[ItemView]] = {}
    for it in optional:
        if it.code not in handled:
            groups.setdefault(it.group or it.code, []).append(it)
    for members in groups.values():
        extra.append(min(members, key=lambda i: i.row))
    if not choices:
        choices = [([], 1.0)]
    return WeightedPicker(
        [_variant(plan, required + chosen + extra) for chosen, _w in choices], [w for _c, w in choices]
    )


@dataclass(frozen=True)
class Availability:
    """When a course is examined: not before `first`, not on or after `until` (sitting dates)."""

    first: date | None = None
    until: date | None = None
    first_label: str | None = None


def course_availability(plans: list[PlanView]) -> dict[int, Availability]:
    """Theory courses of the plans and when each is on the timetable.

    A course only in a superseded plan version (e.g. 080901 2021) stops at the cut-over (rule 1
    of the handbook: old courses are no longer examined unless code and name are unchanged); a
    course new in the current version of such a major starts at the cut-over. Courses of plans
    with a single version are examined throughout. 00018/00019 are never examined.
    """
    by_major: dict[int, list[PlanView]] = {}
    for p in plans:
        by_major.setdefault(p.major_id, []).append(p)
    current_codes: set[str] = set()
    for versions in by_major.values():
        newest = max(versions, key=lambda p: p.version)
        current_codes |= {it.code for it in newest.items}
    out: dict[int, Availability] = {}
    for versions in by_major.values():
        newest = max(versions, key=lambda p: p.version)
        old = [p for p in versions if p is not newest]
        cutover = (
            newest.effective_from
            or next(
                (p.old_candidates_registered_before for p in old if p.old_candidates_registered_before), None
            )
            or DEFAULT_CUTOVER
        )
        old_codes = {it.code for p in old for it in p.items}
        other_current = {
            it.code
            for m, vs in by_major.items()
            if vs is not versions
            for it in max(vs, key=lambda p: p.version).items
        }
        for p in versions:
            for it in p.items:
                if it.kind != THEORY or it.code in EXEMPTION_ONLY:
                    continue
                if p is not newest and it.code not in current_codes:
                    avail = Availability(until=cutover)
                elif p is newest and old and it.code not in old_codes and it.code not in other_current:
                    avail = Availability(first=cutover)
                else:
                    avail = Availability()
                if it.code in FIRST_OFFERED:
                    avail = Availability(
                        first=avail.first, until=avail.until, first_label=FIRST_OFFERED[it.code]
                    )
                previous = out.get(it.course_id)
                if previous is None or (previous.until is not None and avail.until is None):
                    out[it.course_id] = avail
    return out


def slot_assignment(plans: list[PlanView], slot_count: int = 4) -> dict[int, int]:
    """A fixed slot per theory course, spreading each plan's courses evenly over the slots.

    With 4 slots and 12–20 theory courses per plan, several courses of a plan must share a
    slot; the greedy balance keeps that to the minimum (a candidate still takes one per slot).
    """
    slot_of: dict[int, int] = {}
    totals = [0] * slot_count
    for plan in sorted(plans, key=lambda p: (p.major_code, -p.version)):
        theory = [
            it
            for it in sorted(plan.items, key=lambda i: i.row)
            if it.kind == THEORY and it.code not in EXEMPTION_ONLY
        ]
        mine = [0] * slot_count
        for it in theory:
            if it.course_id in slot_of:
                mine[slot_of[it.course_id]] += 1
        for it in theory:
            if it.course_id in slot_of:
                continue
            slot = min(range(slot_count), key=lambda s: (mine[s], totals[s], s))
            slot_of[it.course_id] = slot
            mine[slot] += 1
            totals[slot] += 1
    return slot_of


def offered_in(
    avail: dict[int, Availability], codes: dict[int, str], *, label: str, first_day: date, main: bool
) -> frozenset[int]:
    """Theory courses on the timetable of one sitting (January/July: about half of them)."""
    ordered = sorted(avail, key=lambda cid: codes[cid])
    out = set()
    for n, cid in enumerate(ordered):
        a = avail[cid]
        if a.first is not None and first_day < a.first:
            continue
        if a.until is not None and first_day >= a.until:
            continue
        if a.first_label is not None and label < a.first_label:
            continue
        if not main and n % 2:
            continue
        out.add(cid)
    return frozenset(out)
