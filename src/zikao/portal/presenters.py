"""Plain words for the candidate: the plan engine's answer (毕业预测) and score rows as shown.

Pure functions over the selectors' results (no database, no request): the portal pages and the
API both present through here, so a page and an endpoint always say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from zikao.catalog.rules import (
    PRECONDITION_NOT_MET,
    THEORY_NOT_PASSED,
    VIA_PASS,
    VIA_POLITICS,
    VIA_TABLE,
    VIA_WAIVED,
    Fulfilment,
    GroupStatus,
    ItemStatus,
)
from zikao.graduation.selectors import PlanProgress

Number = int | float


def credits_number(value: int | Decimal | float) -> Number:
    """3 → 3, Decimal('3.5') → 3.5, Decimal('4.0') → 4 (JSON and display friendly)."""
    as_decimal = Decimal(str(value))
    return int(as_decimal) if as_decimal == as_decimal.to_integral_value() else float(as_decimal)


def method_label(method: str) -> str:
    return {
        "exam": _("考试"),
        "exemption": _("免考"),
        "substitution": _("顶替"),
        "transfer": _("转入"),
    }.get(method, method)


def status_label(status: str) -> str:
    return {
        "valid": _("有效"),
        "absent": _("缺考"),
        "void": _("违规作废"),
        "withheld": _("暂缓发布"),
    }.get(status, status)


def kind_label(kind: str) -> str:
    return {"theory": _("笔试"), "practice": _("实践"), "thesis": _("毕业论文/设计")}.get(kind, kind)


def level_label(level: str) -> str:
    return {"zhuanke": _("专科"), "benke": _("本科")}.get(level, level)


def result_text(*, value: int | None, grade: str, status: str) -> str:
    """What the result column says: the score, the grade, or the status when there is none."""
    if value is not None:
        return str(value)
    if grade:
        return grade
    return status_label(status)


@dataclass(frozen=True)
class Source:
    """A passed course as the candidate knows it (for "done by …" texts)."""

    code: str
    name: str
    sitting: str | None


@dataclass(frozen=True)
class CourseRef:
    code: str
    name: str
    credits: Number


@dataclass(frozen=True)
class DoneLine:
    code: str
    name: str
    credits: Number
    via: str  # pass / table / politics / waived / extra
    methods: tuple[str, ...]
    sources: tuple[CourseRef, ...]
    rule: str
    counted: bool
    text: str


@dataclass(frozen=True)
class MissingLine:
    code: str
    name: str
    credits: Number
    kind: str
    blocked: str | None
    text: str


@dataclass(frozen=True)
class GroupLine:
    id: str
    title: str
    is_choice: bool
    short_courses: int
    short_credits: Number
    options: tuple[CourseRef, ...]
    text: str


@dataclass(frozen=True)
class ThesisLine:
    code: str
    name: str
    allowed: bool
    text: str


@dataclass(frozen=True)
class PlanReport:
    """One plan version for one candidate, in plain words (everything the page shows)."""

    major_code: str
    major_name: str
    level: str
    level_label: str
    plan_version: int
    plan_title: str
    registered_plan: bool
    available: bool
    available_until: date | None
    availability_text: str
    complete: bool
    summary: str
    path_title: str
    credits_earned: Number
    min_total_credits: int
    credits_short: Number
    credits_text: str
    done: tuple[DoneLine, ...]
    missing: tuple[MissingLine, ...]
    open_choices: tuple[GroupLine, ...]
    short_groups: tuple[GroupLine, ...]
    thesis: tuple[ThesisLine, ...]
    practice_blocked: tuple[MissingLine, ...]
    extras: tuple[DoneLine, ...]


def _ref(code: str, names: Mapping[str, Source], items: Mapping[str, ItemStatus]) -> CourseRef:
    item = items.get(code)
    if item is not None:
        return CourseRef(code, item.name, credits_number(item.credits))
    source = names.get(code)
    return CourseRef(code, source.name if source else "", 0)


def _refs_text(refs: Iterable[CourseRef]) -> str:
    # Translators: separator between items of a list of courses (English: a comma and a space).
    return _("、").join(f"{r.code} {r.name}".strip() for r in refs)


def _how(
    fulfilment: Fulfilment, sources: Sequence[CourseRef], names: Mapping[str, Source], credits: Number
) -> str:
    if fulfilment.via == VIA_PASS:
        method = fulfilment.methods[0] if fulfilment.methods else "exam"
        source = names.get(fulfilment.sources[0]) if fulfilment.sources else None
        if method == "exam" and source is not None and source.sitting:
            return _("考试合格（%(sitting)s考次）") % {"sitting": source.sitting}
        return {
            "exam": _("考试合格"),
            "exemption": _("免考"),
            "substitution": _("顶替"),
            "transfer": _("转入"),
        }.get(method, method)
    if fulfilment.via == VIA_TABLE:
        return _("顶替：由已通过的 %(courses)s 顶替") % {"courses": _refs_text(sources)}
    if fulfilment.via == VIA_POLITICS:
        return _("政治理论课替代规则：由已通过的 %(courses)s 替代") % {"courses": _refs_text(sources)}
    if fulfilment.via == VIA_WAIVED:
        return _("无需考核：%(courses)s 顶替其理论课程，本实践环节免考（不计学分）") % {
            "courses": _refs_text(sources)
        }
    return _("旧版计划课程 %(courses)s 计入总学分（%(credits)s学分）") % {
        "courses": _refs_text(sources),
        "credits": credits,
    }


def _missing_line(
    item: ItemStatus, items: Mapping[str, ItemStatus], names: Mapping[str, Source]
) -> MissingLine:
    credits = credits_number(item.credits)
    if item.blocked == THEORY_NOT_PASSED and item.practice_for:
        theory = _ref(item.practice_for, names, items)
        text = _("尚未通过；须先通过理论课程 %(course)s 才能报考") % {"course": _refs_text([theory])}
    elif item.blocked == PRECONDITION_NOT_MET:
        text = _("尚未通过；报考条件未满足（须先通过本计划规定门数的课程）")
    else:
        text = _("尚未通过")
    return MissingLine(item.code, item.name, credits, item.kind, item.blocked, text)


def _group_line(
    group: GroupStatus, items: Mapping[str, ItemStatus], names: Mapping[str, Source]
) -> GroupLine:
    options = tuple(_ref(code, names, items) for code in group.candidates)
    short_credits = credits_number(group.short_credits)
    if group.is_choice:
        text = _("尚未选定：可从以下课程中任选%(count)s门") % {"count": group.min_courses}
    elif short_credits:
        text = _("还差%(courses)s门课程、%(credits)s学分（已计%(done)s门、%(done_credits)s学分）") % {
            "courses": group.short_courses,
            "credits": short_credits,
            "done": group.courses_done,
            "done_credits": credits_number(group.credits_done),
        }
    else:
        text = _("还差%(courses)s门课程（已计%(done)s门）") % {
            "courses": group.short_courses,
            "done": group.courses_done,
        }
    return GroupLine(
        group.id, group.title, group.is_choice, group.short_courses, short_credits, options, text
    )


def _availability(progress: PlanProgress) -> str:
    until = progress.available_until if isinstance(progress.available_until, date) else None
    if progress.registered_plan:
        if progress.available:
            if until:
                return _("您注册的计划版本；可按此计划毕业，截至%(date)s") % {"date": until.isoformat()}
            return _("您注册的计划版本；可按此计划毕业")
        if until:
            return _("您注册的计划版本；过渡期已于%(date)s结束，不能再按此计划毕业") % {
                "date": until.isoformat()
            }
        return _("您注册的计划版本；目前不能按此计划毕业")
    if progress.available:
        return _("现行计划版本；可按此计划毕业")
    return _("现行计划版本；目前不能按此计划毕业")


def present_plan(progress: PlanProgress, names: Mapping[str, Source]) -> PlanReport:
    """Turn one PlanProgress into plain words. `names`: the candidate's passed courses by code."""
    ev = progress.evaluation
    items = {i.code: i for i in ev.items}
    done: list[DoneLine] = []
    for item in ev.items:
        if item.fulfilment is None:
            continue
        f = item.fulfilment
        sources = tuple(_ref(code, names, {}) for code in f.sources)
        credits = credits_number(f.credits)
        text = _how(f, sources, names, credits)
        if not item.counted:
            text = _("%(how)s；不计入本方案学分") % {"how": text}
        done.append(
            DoneLine(item.code, item.name, credits, f.via, f.methods, sources, f.rule, item.counted, text)
        )
    extras = []
    for f in ev.extras:
        sources = tuple(_ref(code, names, {}) for code in f.sources)
        credits = credits_number(f.credits)
        name = names[f.code].name if f.code in names else ""
        extras.append(
            DoneLine(
                f.code,
                name,
                credits,
                f.via,
                f.methods,
                sources,
                f.rule,
                True,
                _how(f, sources, names, credits),
            )
        )
    missing = tuple(_missing_line(items[code], items, names) for code in ev.missing_required)
    practice_blocked = tuple(_missing_line(items[code], items, names) for code in ev.practice_blocked)
    thesis = tuple(
        ThesisLine(
            code,
            items[code].name,
            ev.thesis_allowed,
            _("可以报考：其他课程要求已全部满足")
            if ev.thesis_allowed
            else _("暂不能报考：须在本计划其他课程要求全部满足后才能报考"),
        )
        for code in ev.thesis
    )
    earned = credits_number(ev.credits_earned)
    short = credits_number(ev.credits_short)
    if short:
        credits_text = _("已获%(earned)s学分，最低要求%(min)s学分，还差%(short)s学分") % {
            "earned": earned,
            "min": ev.min_total_credits,
            "short": short,
        }
    else:
        credits_text = _("已获%(earned)s学分，最低要求%(min)s学分") % {
            "earned": earned,
            "min": ev.min_total_credits,
        }
    if ev.complete:
        summary = _("已满足本计划全部课程与学分要求，可以申请毕业审核。")
    elif ev.missing_courses and short:
        summary = _("尚未满足毕业要求：还差%(count)s门课程，还差%(short)s学分。") % {
            "count": ev.missing_courses,
            "short": short,
        }
    elif ev.missing_courses:
        summary = _("尚未满足毕业要求：还差%(count)s门课程。") % {"count": ev.missing_courses}
    elif short:
        summary = _("尚未满足毕业要求：还差%(short)s学分。") % {"short": short}
    else:  # a group still short of its own credits while the plan total is reached
        summary = _("尚未满足毕业要求。")
    path_title = ""
    if len(ev.paths) > 1:
        chosen = next(p for p in ev.paths if p.id == ev.path)
        path_title = chosen.title
    return PlanReport(
        major_code=progress.major_code,
        major_name=progress.major_name,
        level=progress.level,
        level_label=level_label(progress.level),
        plan_version=progress.plan_version,
        plan_title=progress.plan_title,
        registered_plan=progress.registered_plan,
        available=progress.available,
        available_until=progress.available_until if isinstance(progress.available_until, date) else None,
        availability_text=_availability(progress),
        complete=ev.complete,
        summary=summary,
        path_title=path_title,
        credits_earned=earned,
        min_total_credits=ev.min_total_credits,
        credits_short=short,
        credits_text=credits_text,
        done=tuple(done),
        missing=missing,
        open_choices=tuple(_group_line(g, items, names) for g in ev.open_choices),
        short_groups=tuple(_group_line(g, items, names) for g in ev.short_groups),
        thesis=thesis,
        practice_blocked=practice_blocked,
        extras=tuple(extras),
    )


def present_progress(progress: Sequence[PlanProgress], names: Mapping[str, Source]) -> list[PlanReport]:
    return [present_plan(p, names) for p in progress]
