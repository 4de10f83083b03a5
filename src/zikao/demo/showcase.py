"""The well-known demo candidates: fixed people with a steered history, for the demo logins.

Each is generated first (so their numbers do not depend on --candidates) from its own random
stream; when chance does not produce the situation it shows, the next stream is tried
(deterministically), so the same seed always gives the same showcase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from zikao.demo.history import WITHHELD, Forces, History, Profile


@dataclass(frozen=True)
class Showcase:
    key: str
    role: str
    name: str
    gender: str
    birth: date
    county_code: str
    major_code: str
    old_plan: bool
    register: str  # sitting label
    profile: Profile
    forces: Forces
    accept: Callable[[History], bool]


_STRONG = Profile(ability=0.9, enter_main=1.0, enter_minor=0.5, quit_rate=0.0, absent_rate=0.02)
_STEADY = Profile(ability=0.72, enter_main=0.95, enter_minor=0.4, quit_rate=0.0, absent_rate=0.05)

SHOWCASES: tuple[Showcase, ...] = (
    Showcase(
        "graduated",
        "已毕业 (graduated, certificate issued)",
        "张明远",
        "M",
        date(1992, 3, 14),
        "320102",
        "120203K",
        False,
        "202004",
        _STRONG,
        Forces(enter_all=True, quiet=True),
        lambda h: h.graduation is not None,
    ),
    Showcase(
        "nearly",
        "差一两门 (one or two items to go)",
        "李欣怡",
        "F",
        date(1996, 8, 21),
        "320106",
        "050101",
        False,
        "202104",
        _STEADY,
        Forces(enter_all=True, quiet=True, stop_remaining=2),
        lambda h: 1 <= h.remaining <= 2 and h.graduation is None,
    ),
    Showcase(
        "plan2021",
        "2021版计划 (080901 2021 plan, registered before 2024-07)",
        "陈浩",
        "M",
        date(1990, 11, 2),
        "320508",
        "080901",
        True,
        "202204",
        _STEADY,
        Forces(quiet=True),
        lambda h: h.remaining > 0 and len(h.attempts) >= 8,
    ),
    Showcase(
        "suspended",
        "停考中 (3-year suspension from 2025-04)",
        "刘建国",
        "M",
        date(1988, 5, 30),
        "320303",
        "590202",
        False,
        "202104",
        _STEADY,
        Forces(enter_all=True, quiet=True, violation=("202504", "serious_cheating", 3)),
        lambda h: len(h.violations) == 1 and h.remaining > 0,
    ),
    Showcase(
        "withheld",
        "202610 成绩暂缓发布 (a withheld 202610 score)",
        "赵雪",
        "F",
        date(2000, 1, 9),
        "320213",
        "570102K",
        False,
        "202404",
        _STEADY,
        Forces(quiet=True, withheld_last=True),
        lambda h: any(a.status == WITHHELD for a in h.attempts),
    ),
    Showcase(
        "exempted",
        "免考 (CET-4 exemption for 13000)",
        "孙佳",
        "F",
        date(1997, 6, 18),
        "320115",
        "080901",
        False,
        "202410",
        _STEADY,
        Forces(enter_all=True, quiet=True, cet_exemption=True),
        lambda h: bool(h.exemptions),
    ),
    Showcase(
        "transferred_in",
        "接考转入 (transferred in from another province)",
        "周婷",
        "F",
        date(1994, 9, 27),
        "320613",
        "050101",
        False,
        "202304",
        _STEADY,
        Forces(quiet=True, transfer_in=True),
        lambda h: h.transfer_in is not None,
    ),
    Showcase(
        "transferred_out",
        "已转出 (record moved to another province after 202504)",
        "吴志强",
        "M",
        date(1993, 12, 5),
        "321003",
        "120203K",
        False,
        "202204",
        _STEADY,
        Forces(enter_all=True, quiet=True, transfer_out="202504"),
        lambda h: h.transfer_out is not None and h.remaining >= 3,
    ),
)
