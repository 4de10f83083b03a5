"""The sitting rules (catalog.rules): window ordering, release after the last slot, review after
release, label vs first day, slots, and what can no longer change. Pure: no database."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from zikao.catalog.rules import (
    Refusal,
    SittingDraft,
    add_working_days,
    default_review_closes_at,
    default_slots,
    new_sitting_problems,
    sitting_change_problems,
    sitting_problems,
)

TZ = ZoneInfo("Asia/Shanghai")
FIRST_DAY = date(2027, 4, 10)  # a Saturday


def at(day: int, hour: int, minute: int = 0, month: int = 4) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=TZ)


def draft(**changes) -> SittingDraft:
    base = SittingDraft(
        label="202704",
        first_day=FIRST_DAY,
        slots=default_slots(FIRST_DAY, TZ),
        entry_opens_at=at(1, 9, month=2),
        entry_closes_at=at(8, 17, month=2),
        release_at=at(15, 15, month=5),
        review_closes_at=at(24, 17, month=5),
    )
    return dataclasses.replace(base, **changes)


def codes(problems: list[Refusal]) -> list[str]:
    return [p.code for p in problems]


def test_default_slots_are_the_domain_times():
    assert default_slots(FIRST_DAY, TZ) == (
        ("SAT_AM", at(10, 9), at(10, 11, 30)),
        ("SAT_PM", at(10, 14, 30), at(10, 17)),
        ("SUN_AM", at(11, 9), at(11, 11, 30)),
        ("SUN_PM", at(11, 14, 30), at(11, 17)),
    )


def test_a_complete_sitting_is_accepted():
    assert sitting_problems(draft(), tz=TZ) == []


def test_windows_may_be_left_open():
    assert (
        sitting_problems(
            draft(entry_opens_at=None, entry_closes_at=None, release_at=None, review_closes_at=None), tz=TZ
        )
        == []
    )


@pytest.mark.parametrize("label", ["2027-04", "202713", "202700", "19990", "", "2027041"])
def test_label_must_be_yyyymm(label):
    assert sitting_problems(draft(label=label), tz=TZ) == [
        Refusal("SITTING_LABEL_FORMAT", "label", "考次应为YYYYMM格式(如202610)。")
    ]


def test_label_must_match_first_day_year_and_month():
    assert sitting_problems(draft(label="202710"), tz=TZ) == [
        Refusal("SITTING_LABEL_MISMATCH", "first_day", "首考日 2027-04-10 不在考次 202710 所示的年月内。")
    ]


def test_entry_window_must_open_before_it_closes():
    problems = sitting_problems(draft(entry_opens_at=at(8, 17, month=2)), tz=TZ)
    assert problems == [
        Refusal("SITTING_ENTRY_WINDOW_ORDER", "entry_closes_at", "报考截止时间须晚于开始时间。")
    ]
    assert codes(sitting_problems(draft(entry_opens_at=at(9, 9, month=2)), tz=TZ)) == [
        "SITTING_ENTRY_WINDOW_ORDER"
    ]


def test_entry_window_must_close_before_the_first_slot():
    assert sitting_problems(draft(entry_closes_at=at(10, 9)), tz=TZ) == [
        Refusal(
            "SITTING_ENTRY_AFTER_EXAM",
            "entry_closes_at",
            "报考须在第一个时段开考(2027-04-10 09:00)之前截止。",
        )
    ]
    assert sitting_problems(draft(entry_closes_at=at(10, 8, 59)), tz=TZ) == []


def test_entry_window_needs_both_ends():
    assert sitting_problems(draft(entry_closes_at=None), tz=TZ) == [
        Refusal("SITTING_ENTRY_WINDOW_INCOMPLETE", "entry_closes_at", "报考开始与截止时间须同时填写。")
    ]
    assert codes(sitting_problems(draft(entry_opens_at=None), tz=TZ)) == ["SITTING_ENTRY_WINDOW_INCOMPLETE"]


def test_release_must_come_after_the_last_slot_ends():
    assert sitting_problems(draft(release_at=at(11, 17), review_closes_at=None), tz=TZ) == [
        Refusal(
            "SITTING_RELEASE_BEFORE_EXAM_END",
            "release_at",
            "成绩发布时间须晚于最后一个时段结束(2027-04-11 17:00)。",
        )
    ]
    assert sitting_problems(draft(release_at=at(11, 17, 1), review_closes_at=None), tz=TZ) == []


def test_review_window_must_close_after_release():
    assert sitting_problems(draft(review_closes_at=at(15, 15, month=5)), tz=TZ) == [
        Refusal("SITTING_REVIEW_BEFORE_RELEASE", "review_closes_at", "复查截止时间须晚于成绩发布时间。")
    ]
    assert sitting_problems(draft(release_at=None), tz=TZ) == [
        Refusal("SITTING_REVIEW_WITHOUT_RELEASE", "review_closes_at", "请先设定成绩发布时间。")
    ]


def test_slots_must_be_the_four_codes():
    slots = default_slots(FIRST_DAY, TZ)[:3]
    assert codes(sitting_problems(draft(slots=slots), tz=TZ)) == ["SITTING_SLOTS_INCOMPLETE"]
    renamed = (*slots, ("SUN_EV", at(11, 18), at(11, 20)))
    assert codes(sitting_problems(draft(slots=renamed), tz=TZ)) == ["SITTING_SLOTS_INCOMPLETE"]


def test_slot_must_end_after_it_starts_and_not_overlap():
    slots = list(default_slots(FIRST_DAY, TZ))
    slots[1] = ("SAT_PM", at(10, 17), at(10, 14, 30))
    assert sitting_problems(draft(slots=tuple(slots)), tz=TZ) == [
        Refusal("SITTING_SLOT_ORDER", "sat_pm_ends_at", "周六下午 的结束时间须晚于开始时间。"),
    ]
    slots = list(default_slots(FIRST_DAY, TZ))
    slots[1] = ("SAT_PM", at(10, 11), at(10, 13))
    assert sitting_problems(draft(slots=tuple(slots)), tz=TZ) == [
        Refusal("SITTING_SLOT_OVERLAP", "sat_pm_starts_at", "周六下午 须在 周六上午 结束之后开始。"),
    ]


def test_first_day_is_the_first_slots_date():
    slots = default_slots(FIRST_DAY + timedelta(days=7), TZ)
    assert sitting_problems(draft(slots=slots, entry_closes_at=at(8, 17, month=2)), tz=TZ) == [
        Refusal(
            "SITTING_FIRST_DAY_MISMATCH", "first_day", "首考日须为第一个时段(周六上午)的日期 2027-04-17。"
        )
    ]


def test_several_problems_are_reported_together():
    bad = draft(
        label="202710",
        entry_opens_at=at(9, 9, month=2),
        release_at=at(10, 12),
        review_closes_at=at(10, 11),
    )
    assert codes(sitting_problems(bad, tz=TZ)) == [
        "SITTING_LABEL_MISMATCH",
        "SITTING_ENTRY_WINDOW_ORDER",
        "SITTING_RELEASE_BEFORE_EXAM_END",
        "SITTING_REVIEW_BEFORE_RELEASE",
    ]


# --- changes -------------------------------------------------------------------------------------


def test_release_time_is_locked_once_scores_are_released():
    before = draft()
    after = draft(release_at=at(20, 15, month=5), review_closes_at=at(30, 17, month=5))
    released = before.release_at
    assert sitting_change_problems(before, after, effective_release_at=released, now=released) == [
        Refusal(
            "SITTING_RELEASE_LOCKED",
            "release_at",
            "该考次成绩已发布,发布时间不能在此更改(请到成绩发布页面办理)。",
        )
    ]
    # A second before the release it may still move (to a time in the future).
    just_before = released - timedelta(seconds=1)
    assert sitting_change_problems(before, after, effective_release_at=released, now=just_before) == []


def test_published_early_locks_the_release_time_too():
    before = draft()
    after = draft(release_at=at(20, 15, month=5))
    published = at(12, 10, month=5)
    assert codes(sitting_change_problems(before, after, effective_release_at=published, now=published)) == [
        "SITTING_RELEASE_LOCKED"
    ]


def test_other_fields_stay_editable_after_release():
    before = draft()
    after = draft(review_closes_at=at(31, 17, month=5))
    now = at(20, 9, month=5)
    assert sitting_change_problems(before, after, effective_release_at=before.release_at, now=now) == []


def test_release_cannot_be_moved_into_the_past():
    before = draft()
    now = at(1, 9, month=5)
    after = draft(release_at=at(30, 15, month=4))
    assert sitting_change_problems(before, after, effective_release_at=before.release_at, now=now) == [
        Refusal("SITTING_RELEASE_IN_PAST", "release_at", "发布时间须晚于当前时间。")
    ]
    assert new_sitting_problems(after, now=now) == [
        Refusal("SITTING_RELEASE_IN_PAST", "release_at", "发布时间须晚于当前时间。")
    ]
    assert new_sitting_problems(before, now=now) == []


def test_label_never_changes_and_slots_lock_when_the_exam_starts():
    before = draft()
    assert codes(
        sitting_change_problems(before, draft(label="202705"), effective_release_at=None, now=at(1, 9))
    ) == ["SITTING_LABEL_IMMUTABLE"]
    moved = list(default_slots(FIRST_DAY, TZ))
    moved[3] = ("SUN_PM", at(11, 15), at(11, 17, 30))
    after = draft(slots=tuple(moved))
    assert sitting_change_problems(before, after, effective_release_at=None, now=at(10, 8, 59)) == []
    assert sitting_change_problems(before, after, effective_release_at=None, now=at(10, 9)) == [
        Refusal("SITTING_SLOTS_LOCKED", "first_day", "该考次已开考,首考日和时段时间不能再更改。")
    ]


def test_review_default_counts_working_days():
    # Released Friday 2027-05-14 15:00; 7 working days later is Tuesday 2027-05-25.
    assert add_working_days(date(2027, 5, 14), 7) == date(2027, 5, 25)
    assert default_review_closes_at(at(14, 15, month=5), 7, TZ) == at(25, 17, month=5)


def test_entry_window_locks_as_entry_opens_and_closes():
    before = draft()
    extended = draft(entry_closes_at=at(10, 17, month=2))
    moved_open = draft(entry_opens_at=at(2, 9, month=2))
    # Before entry opens: anything may move.
    assert (
        sitting_change_problems(before, moved_open, effective_release_at=None, now=at(1, 8, 59, month=2))
        == []
    )
    # While open: the closing time may be extended, the opening time is history.
    now = at(3, 9, month=2)
    assert sitting_change_problems(before, extended, effective_release_at=None, now=now) == []
    assert sitting_change_problems(before, moved_open, effective_release_at=None, now=now) == [
        Refusal(
            "SITTING_ENTRY_WINDOW_LOCKED",
            "entry_opens_at",
            "报考已开始,报考开始时间不能再更改(截止时间仍可调整)。",
        )
    ]
    # After it closed: neither end moves, not even to clear it.
    now = at(8, 17, month=2)
    for after in (extended, draft(entry_opens_at=None, entry_closes_at=None)):
        assert sitting_change_problems(before, after, effective_release_at=None, now=now) == [
            Refusal("SITTING_ENTRY_WINDOW_LOCKED", "entry_closes_at", "报考已截止,报考时间不能再更改。")
        ]
