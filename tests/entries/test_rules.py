"""entries.rules: every refusal code with a case that fails without its rule, and properties."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from zikao.catalog import rules as catalog_rules
from zikao.entries import rules
from zikao.entries.rules import AreaSeats, HeldEntry

TZ = dt.timezone(dt.timedelta(hours=8))
OPENS = dt.datetime(2026, 8, 20, 9, 0, tzinfo=TZ)
CLOSES = dt.datetime(2026, 8, 30, 17, 0, tzinfo=TZ)
NOW = dt.datetime(2026, 8, 25, 10, 0, tzinfo=TZ)

OFFERED = {"A": "SAT_AM", "B": "SAT_PM", "C": "SUN_AM", "D": "SUN_PM", "E": "SAT_AM", "X": "SUN_AM"}
ELIGIBLE = {"A": None, "B": None, "C": None, "D": None, "E": None, "N": None}
AREAS = {
    1: AreaSeats(1, "玄武区", {"SAT_AM": 3, "SAT_PM": 3, "SUN_AM": 3, "SUN_PM": 3}),
    2: AreaSeats(2, "秦淮区", {"SAT_AM": 0, "SAT_PM": 5, "SUN_AM": 1, "SUN_PM": 0}),
    3: AreaSeats(3, "姑苏区", {"SAT_AM": 7, "SAT_PM": 0, "SUN_AM": 0, "SUN_PM": 0}),
}


def decide(**overrides):
    args = {
        "now": NOW,
        "opens_at": OPENS,
        "closes_at": CLOSES,
        "offered": OFFERED,
        "eligibility": ELIGIBLE,
        "existing": [],
        "requested": ["A"],
        "area": 1,
        "max_courses": 4,
        "suspended_until": None,
        "areas": AREAS,
    }
    args.update(overrides)
    return rules.entry_refusals(**args)


def codes(refusals) -> list[tuple[str, str]]:
    return [(r.code, r.course) for r in refusals]


def test_a_valid_request_has_no_refusal():
    assert decide(requested=["A", "B", "C", "D"]) == []


# --- the window --------------------------------------------------------------------------------


def test_window_states():
    assert rules.window_state(OPENS, CLOSES, OPENS - dt.timedelta(microseconds=1)) == rules.WINDOW_NOT_OPEN
    assert rules.window_state(OPENS, CLOSES, OPENS) == rules.WINDOW_OPEN
    assert rules.window_state(OPENS, CLOSES, CLOSES - dt.timedelta(microseconds=1)) == rules.WINDOW_OPEN
    assert rules.window_state(OPENS, CLOSES, CLOSES) == rules.WINDOW_CLOSED
    assert rules.window_state(None, CLOSES, NOW) == rules.WINDOW_UNSET
    assert rules.window_state(OPENS, None, NOW) == rules.WINDOW_UNSET


def test_window_not_open_yet_is_reported_alone():
    refusals = decide(now=OPENS - dt.timedelta(seconds=1), requested=["A", "ZZ"], area=99)
    assert codes(refusals) == [(rules.ENTRY_WINDOW_CLOSED, "")]
    assert refusals[0].details == {
        "state": "not_open",
        "opens_at": "2026-08-20 09:00",
        "closes_at": "2026-08-30 17:00",
    }
    assert refusals[0].message == "本考次报考尚未开始，报考时间为 2026-08-20 09:00 至 2026-08-30 17:00。"


def test_window_closed_at_the_closing_instant():
    refusals = decide(now=CLOSES)
    assert codes(refusals) == [(rules.ENTRY_WINDOW_CLOSED, "")]
    assert refusals[0].details["state"] == "closed"
    assert refusals[0].message == "本考次报考已于 2026-08-30 17:00 截止。"


def test_no_window_at_all():
    refusals = decide(opens_at=None, closes_at=None)
    assert codes(refusals) == [(rules.ENTRY_WINDOW_CLOSED, "")]
    assert refusals[0].details["state"] == "unset"


def test_window_times_shown_in_the_given_time_zone():
    refusals = decide(now=CLOSES, tz=dt.UTC)
    assert refusals[0].details["closes_at"] == "2026-08-30 09:00"


# --- suspension ------------------------------------------------------------------------------


def test_suspension_blocks_alone():
    refusals = decide(suspended_until=dt.date(2027, 5, 1), requested=["A", "ZZ"])
    assert codes(refusals) == [(rules.ENTRY_SUSPENDED, "")]
    assert refusals[0].details == {"until": "2027-05-01"}
    assert refusals[0].message == "您正处于停考期内（至 2027-05-01），不能报考。"


def test_window_closed_wins_over_suspension():
    refusals = decide(now=CLOSES, suspended_until=dt.date(2027, 5, 1))
    assert codes(refusals) == [(rules.ENTRY_WINDOW_CLOSED, "")]


# --- per course ------------------------------------------------------------------------------


def test_no_courses():
    assert codes(decide(requested=[])) == [(rules.ENTRY_NO_COURSES, "")]
    assert codes(decide(requested=[" ", ""])) == [(rules.ENTRY_NO_COURSES, "")]


def test_not_in_plan():
    assert codes(decide(requested=["X"])) == [(rules.ENTRY_COURSE_NOT_IN_PLAN, "X")]


def test_not_offered():
    assert codes(decide(requested=["N"])) == [(rules.ENTRY_COURSE_NOT_OFFERED, "N")]


def test_not_in_plan_reported_before_not_offered():
    assert codes(decide(requested=["Q"])) == [(rules.ENTRY_COURSE_NOT_IN_PLAN, "Q")]


def test_each_plan_engine_reason_maps_to_its_code():
    for reason, code in [
        (catalog_rules.ALREADY_PASSED, rules.ENTRY_ALREADY_PASSED),
        (catalog_rules.ALREADY_CREDITED, rules.ENTRY_ALREADY_CREDITED),
        (catalog_rules.NOT_REQUIRED, rules.ENTRY_NOT_REQUIRED),
        (catalog_rules.THEORY_NOT_PASSED, rules.ENTRY_THEORY_NOT_PASSED),
        (catalog_rules.THESIS_NOT_YET, rules.ENTRY_THESIS_NOT_YET),
        (catalog_rules.PRECONDITION_NOT_MET, rules.ENTRY_PRECONDITION_NOT_MET),
    ]:
        refusals = decide(eligibility={**ELIGIBLE, "B": reason}, requested=["A", "B"])
        assert codes(refusals) == [(code, "B")], reason
        assert refusals[0].details == {"reason": reason}
        assert refusals[0].field == "courses"


def test_messages_name_the_course():
    refusals = decide(
        eligibility={**ELIGIBLE, "B": catalog_rules.ALREADY_PASSED}, requested=["B"], names={"B": "高等数学"}
    )
    assert refusals[0].message == "课程 B 高等数学 已合格，不能再报考。"


def test_duplicate_of_a_current_entry():
    refusals = decide(existing=[HeldEntry("A", "SAT_AM", 1)], requested=["A", "B"])
    assert codes(refusals) == [(rules.ENTRY_DUPLICATE, "A")]
    assert rules.http_status(refusals[0].code) == 409


def test_repeats_in_one_request_count_once():
    assert decide(requested=["A", "A", " A "]) == []


def test_slot_clash_within_the_request():
    refusals = decide(requested=["A", "E"])
    assert codes(refusals) == [(rules.ENTRY_SLOT_CLASH, "E")]
    assert refusals[0].details == {"slot": "SAT_AM", "other": "A"}


def test_slot_clash_with_a_current_entry():
    refusals = decide(
        existing=[HeldEntry("A", "SAT_AM", 1)], requested=["E"], slot_labels={"SAT_AM": "周六上午"}
    )
    assert codes(refusals) == [(rules.ENTRY_SLOT_CLASH, "E")]
    assert refusals[0].message == "课程 E 与 A 同在 周六上午 考试，同一时段只能报考一门。"


def test_max_courses_counts_current_and_requested():
    refusals = decide(
        existing=[HeldEntry("A", "SAT_AM", 1), HeldEntry("B", "SAT_PM", 1)],
        requested=["C", "D"],
        max_courses=3,
    )
    assert codes(refusals) == [(rules.ENTRY_MAX_COURSES, "")]
    assert refusals[0].details == {"max": 3, "entered": 2, "requested": 2}
    assert decide(existing=[HeldEntry("A", "SAT_AM", 1)], requested=["C", "D"], max_courses=3) == []


def test_max_courses_of_the_province_default():
    assert codes(decide(requested=["A", "B", "C", "D"], max_courses=3)) == [(rules.ENTRY_MAX_COURSES, "")]


# --- area ------------------------------------------------------------------------------------


def test_area_must_be_an_exam_area_of_the_sitting():
    assert codes(decide(area=99)) == [(rules.ENTRY_AREA_INVALID, "")]
    assert codes(decide(area=None)) == [(rules.ENTRY_AREA_INVALID, "")]


def test_one_area_per_sitting():
    refusals = decide(existing=[HeldEntry("A", "SAT_AM", 1)], requested=["B"], area=2)
    assert codes(refusals) == [(rules.ENTRY_AREA_MISMATCH, "")]
    assert refusals[0].details == {"area": 1}
    assert refusals[0].message == "同一考次只能在一个考区报考：您已报考的课程在 玄武区。"


def test_area_full_lists_areas_with_free_seats_for_that_slot():
    refusals = decide(requested=["A"], area=2)
    assert codes(refusals) == [(rules.ENTRY_AREA_FULL, "")]
    assert refusals[0].details == {
        "slot": "SAT_AM",
        "areas": [{"id": 3, "name": "姑苏区", "free": 7}, {"id": 1, "name": "玄武区", "free": 3}],
    }
    assert refusals[0].field == "area"
    assert rules.http_status(rules.ENTRY_AREA_FULL) == 409


def test_area_full_with_no_alternative():
    refusals = decide(requested=["D"], area=2, areas={2: AREAS[2]})
    assert refusals[0].details == {"slot": "SUN_PM", "areas": []}
    assert refusals[0].message == "考区 秦淮区 SUN_PM 的座位已满，目前其他考区也没有空位。"


def test_a_slot_without_a_counter_is_full():
    areas = {1: AreaSeats(1, "玄武区", {"SAT_AM": 3})}
    assert codes(decide(requested=["B"], areas=areas)) == [(rules.ENTRY_AREA_FULL, "")]


def test_seats_are_checked_only_when_every_other_rule_passes():
    refusals = decide(requested=["A", "X"], area=2)
    assert codes(refusals) == [(rules.ENTRY_COURSE_NOT_IN_PLAN, "X")]


def test_seats_not_checked_without_areas():
    assert decide(areas=None, area=None) == []


# --- swaps -----------------------------------------------------------------------------------


def test_swap_frees_the_slot_and_the_seat_of_the_given_up_course():
    full = {1: AreaSeats(1, "玄武区", {"SAT_AM": 0, "SAT_PM": 0, "SUN_AM": 0, "SUN_PM": 0})}
    existing = [HeldEntry("A", "SAT_AM", 1)]
    assert decide(existing=existing, requested=["E"], removing=["A"], areas=full) == []
    # Without giving A up: a clash.
    assert codes(decide(existing=existing, requested=["E"], areas=full)) == [(rules.ENTRY_SLOT_CLASH, "E")]


def test_swap_into_another_slot_needs_a_seat_there():
    full = {1: AreaSeats(1, "玄武区", {"SAT_AM": 0, "SAT_PM": 0, "SUN_AM": 0, "SUN_PM": 0})}
    refusals = decide(existing=[HeldEntry("A", "SAT_AM", 1)], requested=["B"], removing=["A"], areas=full)
    assert codes(refusals) == [(rules.ENTRY_AREA_FULL, "")]


def test_swap_of_a_course_not_entered():
    assert codes(decide(requested=["B"], removing=["C"])) == [(rules.ENTRY_NOT_ENTERED, "C")]


def test_swap_back_to_the_same_course_is_a_duplicate():
    refusals = decide(existing=[HeldEntry("A", "SAT_AM", 1)], requested=["A"], removing=["A"])
    assert codes(refusals) == [(rules.ENTRY_DUPLICATE, "A")]


def test_swap_keeps_the_maximum():
    existing = [HeldEntry("A", "SAT_AM", 1), HeldEntry("B", "SAT_PM", 1)]
    assert decide(existing=existing, requested=["C"], removing=["B"], max_courses=2) == []
    assert codes(decide(existing=existing, requested=["C", "D"], removing=["B"], max_courses=2)) == [
        (rules.ENTRY_MAX_COURSES, "")
    ]


# --- display -----------------------------------------------------------------------------------


def test_course_standing():
    existing = [HeldEntry("A", "SAT_AM", 1)]
    args = {"offered": OFFERED, "eligibility": ELIGIBLE, "existing": existing, "max_courses": 2}
    assert rules.course_standing("B", **args) is None
    assert rules.course_standing("A", **args).code == rules.ENTRY_DUPLICATE
    assert rules.course_standing("E", **args).code == rules.ENTRY_SLOT_CLASH
    assert rules.course_standing("X", **args).code == rules.ENTRY_COURSE_NOT_IN_PLAN
    full = {**args, "existing": [*existing, HeldEntry("B", "SAT_PM", 1)]}
    refusal = rules.course_standing("C", **full)
    assert (refusal.code, refusal.message) == (
        rules.ENTRY_MAX_COURSES,
        "每个考次最多报考 2 门课程，您已报满。",
    )


def test_http_status():
    assert rules.http_status(rules.ENTRY_DUPLICATE) == 409
    assert rules.http_status(rules.ENTRY_ALREADY_CANCELLED) == 409
    assert rules.http_status(rules.ENTRY_RATE_LIMITED) == 429
    assert rules.http_status(rules.ENTRY_MAX_COURSES) == 422
    assert rules.http_status(rules.ENTRY_WINDOW_CLOSED) == 422


def test_refusal_as_dict():
    refusal = decide(requested=["A"], area=2)[0]
    assert refusal.as_dict()["code"] == rules.ENTRY_AREA_FULL
    assert refusal.as_dict()["areas"][0]["name"] == "姑苏区"


# --- properties ------------------------------------------------------------------------------

COURSE = st.sampled_from(["A", "B", "C", "D", "E", "N", "X"])
SLOT = st.sampled_from(["SAT_AM", "SAT_PM", "SUN_AM", "SUN_PM"])
REASON = st.one_of(st.none(), st.sampled_from(sorted(rules.ELIGIBILITY_CODES)))


@st.composite
def scenarios(draw):
    eligibility = {c: draw(REASON) for c in ["A", "B", "C", "D", "E", "N"]}
    # What a candidate already holds was itself accepted: never two courses in one slot.
    held_courses = draw(
        st.lists(st.sampled_from(["A", "B", "C", "D", "E"]), unique_by=lambda c: OFFERED[c], max_size=3)
    )
    area_of_held = draw(st.sampled_from([1, 2, 3]))
    existing = [HeldEntry(c, OFFERED[c], area_of_held) for c in held_courses]
    free = {
        a: {s: draw(st.integers(0, 2)) for s in ["SAT_AM", "SAT_PM", "SUN_AM", "SUN_PM"]} for a in (1, 2, 3)
    }
    areas = {a: AreaSeats(a, f"区{a}", free[a]) for a in (1, 2, 3)}
    return {
        "eligibility": eligibility,
        "existing": existing,
        "requested": draw(st.lists(COURSE, max_size=5)),
        "area": draw(st.sampled_from([1, 2, 3, 9])),
        "max_courses": draw(st.integers(1, 4)),
        "areas": areas,
        "removing": draw(st.lists(st.sampled_from(["A", "B", "C", "D", "E"]), unique=True, max_size=2)),
    }


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_an_accepted_request_keeps_every_rule(s):
    refusals = decide(**s)
    if refusals:
        for r in refusals:
            assert r.code.startswith("ENTRY_")
        return
    held = {e.course: e for e in s["existing"]}
    kept = [e for e in s["existing"] if e.course not in s["removing"]]
    wanted = list(dict.fromkeys(s["requested"]))
    assert wanted
    assert all(c in held for c in s["removing"])
    assert all(c in s["eligibility"] and c in OFFERED and s["eligibility"][c] is None for c in wanted)
    assert not set(wanted) & {e.course for e in kept}
    slots = [OFFERED[c] for c in wanted] + [e.slot for e in kept]
    assert len(slots) == len(set(slots))
    assert len(kept) + len(wanted) <= s["max_courses"]
    assert s["area"] in s["areas"]
    assert all(e.area == s["area"] for e in kept)
    released = {e.slot for e in s["existing"] if e.course in s["removing"] and e.area == s["area"]}
    for c in wanted:
        assert s["areas"][s["area"]].free_in(OFFERED[c]) > 0 or OFFERED[c] in released


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.sampled_from([OPENS - dt.timedelta(days=1), CLOSES, CLOSES + dt.timedelta(days=3)]))
def test_outside_the_window_nothing_else_is_said(s, now):
    assert codes(decide(now=now, **s)) == [(rules.ENTRY_WINDOW_CLOSED, "")]


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_a_suspension_refuses_everything(s):
    assert codes(decide(suspended_until=dt.date(2027, 1, 1), **s)) == [(rules.ENTRY_SUSPENDED, "")]
