"""Entry (报考) rules: pure decisions with stable refusal codes. No database.

`entry_refusals` decides whether a candidate may enter (or swap) courses of a sitting, from plain
values the services read: the entry window, the sitting's timetable (course → slot), the plan
engine's eligibility map (`catalog.rules.entry_eligibility`, never re-implemented here), the
candidate's current entries, the request, the province's maximum and a running suspension.
Every refusal is an `EntryRefusal` with a stable code, the form field it concerns, the course it
concerns (if any) and JSON-able details.

Codes (HTTP status in the API: `http_status`):

* ENTRY_WINDOW_CLOSED (not open yet, closed, or no window) — alone, nothing else is checked
* ENTRY_SUSPENDED (a suspension blocks entering) — alone
* ENTRY_NO_COURSES (nothing requested)
* ENTRY_NOT_ENTERED (a course to give up is not entered in this sitting)
* ENTRY_DUPLICATE (already entered in this sitting, or added and given up at once) — 409
* ENTRY_COURSE_NOT_IN_PLAN, ENTRY_COURSE_NOT_OFFERED
* ENTRY_ALREADY_PASSED, ENTRY_ALREADY_CREDITED, ENTRY_NOT_REQUIRED, ENTRY_THEORY_NOT_PASSED,
  ENTRY_THESIS_NOT_YET, ENTRY_PRECONDITION_NOT_MET (the plan engine's reasons)
* ENTRY_SLOT_CLASH (two courses in one slot)
* ENTRY_MAX_COURSES (more than the province's maximum per sitting)
* ENTRY_AREA_INVALID (not an exam area of this sitting), ENTRY_AREA_MISMATCH (one area per sitting)
* ENTRY_AREA_FULL (no free seat in the area for a slot; `areas` lists areas with free seats) — 409

Per course the checks run in this order and only the first refusal of a course is reported:
duplicate, not in plan, not offered, the plan engine's reason, slot clash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from django.utils.translation import gettext_lazy as _

from zikao.catalog import rules as catalog_rules

ENTRY_WINDOW_CLOSED = "ENTRY_WINDOW_CLOSED"
ENTRY_SUSPENDED = "ENTRY_SUSPENDED"
ENTRY_NO_COURSES = "ENTRY_NO_COURSES"
ENTRY_NOT_ENTERED = "ENTRY_NOT_ENTERED"
ENTRY_DUPLICATE = "ENTRY_DUPLICATE"
ENTRY_COURSE_NOT_IN_PLAN = "ENTRY_COURSE_NOT_IN_PLAN"
ENTRY_COURSE_NOT_OFFERED = "ENTRY_COURSE_NOT_OFFERED"
ENTRY_ALREADY_PASSED = "ENTRY_ALREADY_PASSED"
ENTRY_ALREADY_CREDITED = "ENTRY_ALREADY_CREDITED"
ENTRY_NOT_REQUIRED = "ENTRY_NOT_REQUIRED"
ENTRY_THEORY_NOT_PASSED = "ENTRY_THEORY_NOT_PASSED"
ENTRY_THESIS_NOT_YET = "ENTRY_THESIS_NOT_YET"
ENTRY_PRECONDITION_NOT_MET = "ENTRY_PRECONDITION_NOT_MET"
ENTRY_SLOT_CLASH = "ENTRY_SLOT_CLASH"
ENTRY_MAX_COURSES = "ENTRY_MAX_COURSES"
ENTRY_AREA_INVALID = "ENTRY_AREA_INVALID"
ENTRY_AREA_MISMATCH = "ENTRY_AREA_MISMATCH"
ENTRY_AREA_FULL = "ENTRY_AREA_FULL"
# Used by the services (not decided here): cancelling, changing area, request hygiene.
ENTRY_ALREADY_CANCELLED = "ENTRY_ALREADY_CANCELLED"
ENTRY_AREA_UNCHANGED = "ENTRY_AREA_UNCHANGED"
ENTRY_NOTHING_ENTERED = "ENTRY_NOTHING_ENTERED"
ENTRY_RECORD_CLOSED = "ENTRY_RECORD_CLOSED"
ENTRY_RATE_LIMITED = "ENTRY_RATE_LIMITED"
ENTRY_IDEMPOTENCY_KEY_INVALID = "ENTRY_IDEMPOTENCY_KEY_INVALID"
ENTRY_IDEMPOTENCY_KEY_REUSED = "ENTRY_IDEMPOTENCY_KEY_REUSED"
ENTRY_IDEMPOTENCY_KEY_REQUIRED = "ENTRY_IDEMPOTENCY_KEY_REQUIRED"

# Window states.
WINDOW_UNSET = "unset"
WINDOW_NOT_OPEN = "not_open"
WINDOW_OPEN = "open"
WINDOW_CLOSED = "closed"

# The plan engine's reasons (catalog.rules.entry_eligibility) → entry codes.
ELIGIBILITY_CODES: dict[str, str] = {
    catalog_rules.ALREADY_PASSED: ENTRY_ALREADY_PASSED,
    catalog_rules.ALREADY_CREDITED: ENTRY_ALREADY_CREDITED,
    catalog_rules.NOT_REQUIRED: ENTRY_NOT_REQUIRED,
    catalog_rules.THEORY_NOT_PASSED: ENTRY_THEORY_NOT_PASSED,
    catalog_rules.THESIS_NOT_YET: ENTRY_THESIS_NOT_YET,
    catalog_rules.PRECONDITION_NOT_MET: ENTRY_PRECONDITION_NOT_MET,
}

_CONFLICT = frozenset({ENTRY_DUPLICATE, ENTRY_AREA_FULL, ENTRY_ALREADY_CANCELLED})


def http_status(code: str) -> int:
    """The API status of an entry refusal: 409 for a conflict with what exists (full area,
    duplicate, already cancelled), 429 when rate limited, 422 for every other rule."""
    if code in _CONFLICT:
        return 409
    if code == ENTRY_RATE_LIMITED:
        return 429
    return 422


@dataclass(frozen=True)
class EntryRefusal:
    """One reason to say no. `field`: "courses", "area", "remove" or "" (the whole request);
    `course`: the course code it concerns ("" = none); `details`: JSON-able extras."""

    code: str
    message: str
    field: str = ""
    course: str = ""
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": str(self.message),
            "field": self.field,
            "course": self.course,
            **dict(self.details),
        }


@dataclass(frozen=True)
class HeldEntry:
    """A current (not cancelled) entry of the candidate in the sitting."""

    course: str
    slot: str | None
    area: int


@dataclass(frozen=True)
class AreaSeats:
    """An exam area of the sitting: its id, name and free seats per slot code (a slot missing
    from `free` has no seats there)."""

    area: int
    name: str
    free: Mapping[str, int]

    def free_in(self, slot: str) -> int:
        return max(int(self.free.get(slot, 0)), 0)


def slot_order(slot: str) -> tuple[int, str]:
    """Sort key of slot codes: SAT_AM, SAT_PM, SUN_AM, SUN_PM, then any other code."""
    codes = catalog_rules.SLOT_CODES
    return (codes.index(slot) if slot in codes else len(codes), slot)


def window_state(opens_at: datetime | None, closes_at: datetime | None, now: datetime) -> str:
    """unset (no window), not_open (before `opens_at`), open (`opens_at` ≤ now < `closes_at`),
    closed (from `closes_at` on)."""
    if opens_at is None or closes_at is None:
        return WINDOW_UNSET
    if now < opens_at:
        return WINDOW_NOT_OPEN
    if now >= closes_at:
        return WINDOW_CLOSED
    return WINDOW_OPEN


def _when(instant: datetime | None, tz: tzinfo | None) -> str:
    if instant is None:
        return ""
    return (instant.astimezone(tz) if tz is not None else instant).strftime("%Y-%m-%d %H:%M")


def window_refusal(
    opens_at: datetime | None, closes_at: datetime | None, now: datetime, *, tz: tzinfo | None = None
) -> EntryRefusal | None:
    """ENTRY_WINDOW_CLOSED unless the window is open now; the message says which side of it."""
    state = window_state(opens_at, closes_at, now)
    if state == WINDOW_OPEN:
        return None
    details = {"state": state, "opens_at": _when(opens_at, tz), "closes_at": _when(closes_at, tz)}
    if state == WINDOW_NOT_OPEN:
        message = str(_("本考次报考尚未开始，报考时间为 %(opens)s 至 %(closes)s。")) % {
            "opens": details["opens_at"],
            "closes": details["closes_at"],
        }
    elif state == WINDOW_CLOSED:
        message = str(_("本考次报考已于 %(closes)s 截止。")) % {"closes": details["closes_at"]}
    else:
        message = str(_("本考次未开放网上报考。"))
    return EntryRefusal(ENTRY_WINDOW_CLOSED, message, "", "", details)


def suspension_refusal(suspended_until: date | None) -> EntryRefusal | None:
    """ENTRY_SUSPENDED while a suspension that blocks entering runs (its last day given)."""
    if suspended_until is None:
        return None
    return EntryRefusal(
        ENTRY_SUSPENDED,
        str(_("您正处于停考期内（至 %(until)s），不能报考。")) % {"until": suspended_until.isoformat()},
        "",
        "",
        {"until": suspended_until.isoformat()},
    )


_ELIGIBILITY_MESSAGES = {
    ENTRY_ALREADY_PASSED: _("课程 %(course)s 已合格，不能再报考。"),
    ENTRY_ALREADY_CREDITED: _("课程 %(course)s 已通过顶替或免考取得，不能再报考。"),
    ENTRY_NOT_REQUIRED: _("实践环节 %(course)s 已随对应课程的顶替免于考核，无需报考。"),
    ENTRY_THEORY_NOT_PASSED: _("实践环节 %(course)s 须在对应的理论课程合格后才能报考。"),
    ENTRY_THESIS_NOT_YET: _("毕业论文（设计） %(course)s 须在其他课程全部合格后才能报考。"),
    ENTRY_PRECONDITION_NOT_MET: _("课程 %(course)s 的报考条件尚未满足（须先通过规定门数的课程）。"),
}


def course_refusal(
    code: str,
    *,
    offered: Mapping[str, str],
    eligibility: Mapping[str, str | None],
    entered: Iterable[str] = (),
    names: Mapping[str, str] | None = None,
) -> EntryRefusal | None:
    """Why `code` alone may not be entered (ignoring slots, the maximum, seats and the window):
    ENTRY_DUPLICATE, ENTRY_COURSE_NOT_IN_PLAN, ENTRY_COURSE_NOT_OFFERED or the plan engine's
    reason; None if it may be."""
    params = {"course": course_label(code, names)}
    if code in set(entered):
        return EntryRefusal(
            ENTRY_DUPLICATE, str(_("课程 %(course)s 本考次已报考。")) % params, "courses", code
        )
    if code not in eligibility:
        return EntryRefusal(
            ENTRY_COURSE_NOT_IN_PLAN,
            str(_("课程 %(course)s 不在您所报专业的考试计划中。")) % params,
            "courses",
            code,
        )
    if code not in offered:
        return EntryRefusal(
            ENTRY_COURSE_NOT_OFFERED, str(_("课程 %(course)s 本考次不开考。")) % params, "courses", code
        )
    reason = eligibility[code]
    if reason is not None:
        entry_code = ELIGIBILITY_CODES.get(reason, ENTRY_PRECONDITION_NOT_MET)
        return EntryRefusal(
            entry_code, str(_ELIGIBILITY_MESSAGES[entry_code]) % params, "courses", code, {"reason": reason}
        )
    return None


def area_full_refusal(
    slot: str, area: AreaSeats | None, areas: Iterable[AreaSeats], *, slot_label: str = ""
) -> EntryRefusal:
    """ENTRY_AREA_FULL for `slot` in `area`, listing the other areas with free seats in that slot
    (most free seats first, then by name) in `details["areas"]`."""
    others = sorted(
        (a for a in areas if a.free_in(slot) > 0 and (area is None or a.area != area.area)),
        key=lambda a: (-a.free_in(slot), a.name, a.area),
    )
    listed: list[dict[str, Any]] = [{"id": a.area, "name": a.name, "free": a.free_in(slot)} for a in others]
    params = {"area": area.name if area else "", "slot": slot_label or slot}
    if listed:
        message = str(_("考区 %(area)s %(slot)s 的座位已满，可选择其他仍有空位的考区：%(others)s。")) % {
            **params,
            "others": "、".join(str(a["name"]) for a in listed),
        }
    else:
        message = str(_("考区 %(area)s %(slot)s 的座位已满，目前其他考区也没有空位。")) % params
    return EntryRefusal(ENTRY_AREA_FULL, message, "area", "", {"slot": slot, "areas": listed})


def course_label(code: str, names: Mapping[str, str] | None) -> str:
    """ "10001 高等数学" when the name is known, else the code."""
    name = (names or {}).get(code)
    return f"{code} {name}" if name else code


def _slot_clash(
    code: str, other: str, slot: str, labels: Mapping[str, str], names: Mapping[str, str] | None
) -> EntryRefusal:
    return EntryRefusal(
        ENTRY_SLOT_CLASH,
        str(_("课程 %(course)s 与 %(other)s 同在 %(slot)s 考试，同一时段只能报考一门。"))
        % {
            "course": course_label(code, names),
            "other": course_label(other, names),
            "slot": labels.get(slot, slot),
        },
        "courses",
        code,
        {"slot": slot, "other": other},
    )


def _max_courses(max_courses: int, held: int, asked: int) -> EntryRefusal:
    if asked:
        message = str(_("每个考次最多报考 %(max)s 门课程（已报考 %(held)s 门，本次申请 %(asked)s 门）。")) % {
            "max": max_courses,
            "held": held,
            "asked": asked,
        }
    else:
        message = str(_("每个考次最多报考 %(max)s 门课程，您已报满。")) % {"max": max_courses}
    return EntryRefusal(
        ENTRY_MAX_COURSES, message, "courses", "", {"max": max_courses, "entered": held, "requested": asked}
    )


def course_standing(
    code: str,
    *,
    offered: Mapping[str, str],
    eligibility: Mapping[str, str | None],
    existing: Sequence[HeldEntry],
    max_courses: int,
    slot_labels: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> EntryRefusal | None:
    """Why `code` could not be added to the candidate's current entries (window, suspension and
    seats aside: the page says those once): `course_refusal`'s reasons, then ENTRY_SLOT_CLASH
    with a current entry, then ENTRY_MAX_COURSES when the maximum is reached. For display."""
    refusal = course_refusal(
        code, offered=offered, eligibility=eligibility, entered=[e.course for e in existing], names=names
    )
    if refusal is not None:
        return refusal
    slot = offered[code]
    other = next((e.course for e in existing if e.slot == slot), None)
    if other is not None:
        return _slot_clash(code, other, slot, slot_labels or {}, names)
    if len(existing) >= max_courses:
        return _max_courses(max_courses, len(existing), 0)
    return None


def entry_refusals(
    *,
    now: datetime,
    opens_at: datetime | None,
    closes_at: datetime | None,
    offered: Mapping[str, str],
    eligibility: Mapping[str, str | None],
    existing: Sequence[HeldEntry],
    requested: Sequence[str],
    area: int | None,
    max_courses: int,
    suspended_until: date | None = None,
    areas: Mapping[int, AreaSeats] | None = None,
    removing: Sequence[str] = (),
    slot_labels: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    tz: tzinfo | None = None,
) -> list[EntryRefusal]:
    """Every reason the request may not be made (empty list: it may).

    * `offered`: course code → slot code of the sitting's timetable;
    * `eligibility`: the plan engine's map for the candidate's plan(s): plan course → None (may
      enter) or its reason; a course missing from it is not in the plan;
    * `existing`: the candidate's current entries in the sitting; `removing`: codes among them
      given up in the same request (a swap: their slots and seats count as free);
    * `requested`: codes to enter (repeats ignored); `area`: the chosen exam area;
    * `max_courses`: the province's maximum per sitting; `suspended_until`: last day of a
      suspension that blocks entering now (None: none does);
    * `areas`: the sitting's exam areas with free seats per slot (None: seats not checked, for
      a display of what could be entered).

    A closed window or a suspension is reported alone. Codes: see the module docstring.
    """
    labels = slot_labels or {}
    closed = window_refusal(opens_at, closes_at, now, tz=tz)
    if closed is not None:
        return [closed]
    suspended = suspension_refusal(suspended_until)
    if suspended is not None:
        return [suspended]

    wanted = list(dict.fromkeys(c.strip() for c in requested if c and c.strip()))
    giving_up = list(dict.fromkeys(c.strip() for c in removing if c and c.strip()))
    refusals: list[EntryRefusal] = []
    if not wanted:
        refusals.append(EntryRefusal(ENTRY_NO_COURSES, str(_("请至少选择一门课程。")), "courses"))

    held = {e.course: e for e in existing}
    for code in giving_up:
        if code not in held:
            refusals.append(
                EntryRefusal(
                    ENTRY_NOT_ENTERED,
                    str(_("课程 %(course)s 本考次未报考，无法改报。"))
                    % {"course": course_label(code, names)},
                    "remove",
                    code,
                )
            )
    kept = [e for e in existing if e.course not in giving_up]
    released = [e for e in existing if e.course in giving_up]

    # The area: one per sitting.
    area_ok = True
    if areas is not None and (area is None or area not in areas):
        area_ok = False
        refusals.append(EntryRefusal(ENTRY_AREA_INVALID, str(_("请选择本考次设有考场的考区。")), "area"))
    kept_areas = sorted({e.area for e in kept})
    if kept_areas and (area is None or kept_areas != [area]):
        area_ok = False
        name = areas[kept_areas[0]].name if areas is not None and kept_areas[0] in areas else ""
        refusals.append(
            EntryRefusal(
                ENTRY_AREA_MISMATCH,
                str(_("同一考次只能在一个考区报考：您已报考的课程在 %(area)s。")) % {"area": name}
                if name
                else str(_("同一考次只能在一个考区报考。")),
                "area",
                "",
                {"area": kept_areas[0]},
            )
        )

    # Course by course.
    kept_courses = {e.course for e in kept}
    slot_taken: dict[str, str] = {e.slot: e.course for e in kept if e.slot}
    valid: list[str] = []
    for code in wanted:
        refusal = course_refusal(
            code,
            offered=offered,
            eligibility=eligibility,
            entered=kept_courses | set(giving_up),
            names=names,
        )
        if refusal is not None:
            refusals.append(refusal)
            continue
        slot = offered[code]
        if slot in slot_taken:
            refusals.append(_slot_clash(code, slot_taken[slot], slot, labels, names))
            continue
        slot_taken[slot] = code
        valid.append(code)

    new_courses = [c for c in wanted if c not in kept_courses and c not in giving_up]
    total = len(kept) + len(new_courses)
    if total > max_courses:
        refusals.append(_max_courses(max_courses, len(kept), len(new_courses)))

    # Seats: one per new course in its slot, less the seats a swap gives back in the same area.
    if areas is not None and area_ok and area is not None and not refusals:
        chosen = areas[area]
        needed: dict[str, int] = {}
        for code in valid:
            needed[offered[code]] = needed.get(offered[code], 0) + 1
        for entry in released:
            if entry.slot and entry.area == area and entry.slot in needed:
                needed[entry.slot] -= 1
        for slot in sorted(needed, key=slot_order):
            if needed[slot] > 0 and chosen.free_in(slot) < needed[slot]:
                refusals.append(
                    area_full_refusal(slot, chosen, areas.values(), slot_label=str(labels.get(slot, slot)))
                )
    return refusals
