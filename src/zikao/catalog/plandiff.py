"""What changes when a plan file replaces (or follows) a stored plan version: a pure diff of two
`PlanSpec`s for the office's upload preview.

Compared: the plan's own facts (major name, school, minimum total credits, transition dates),
the courses (added, removed, and per course: name, credits, kind, required or in which group,
practice pairing, degree course, precondition), the groups' rules and members, and the paths'
groups and minimums. Row order and free-text notes are not compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _

from zikao.catalog.planfile import GroupSpec, PathSpec, PlanItemSpec, PlanSpec

KIND_LABELS = {"theory": _("笔试"), "practice": _("实践"), "thesis": _("毕业论文/设计")}
LEVEL_LABELS = {"zhuanke": _("专科"), "benke": _("本科")}


@dataclass(frozen=True)
class FieldChange:
    """One value that differs: a stable key, a label for people, and both values as text."""

    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class CourseLine:
    """A course added to or removed from the plan, as listed."""

    code: str
    name: str
    credits: str
    kind: str
    placement: str  # "必考" or "选考(组 id)"


@dataclass(frozen=True)
class CourseChange:
    code: str
    name: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class PartChange:
    """A group or path added, removed or changed ("added" / "removed" / "changed")."""

    id: str
    title: str
    status: str
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class PlanDiff:
    plan: tuple[FieldChange, ...]
    added: tuple[CourseLine, ...]
    removed: tuple[CourseLine, ...]
    changed: tuple[CourseChange, ...]
    groups: tuple[PartChange, ...]
    paths: tuple[PartChange, ...]

    @property
    def is_empty(self) -> bool:
        """True when nothing the office or the plan engine cares about differs."""
        return not (self.plan or self.added or self.removed or self.changed or self.groups or self.paths)


def _text(value: Any) -> str:
    if value is None or value == "" or value == ():
        return "—"
    if isinstance(value, bool):
        return str(_("是")) if value else str(_("否"))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return "、".join(str(v) for v in value)
    return str(value)


def _placement(item: PlanItemSpec) -> str:
    if not item.groups:
        return str(_("必考"))
    return str(_("选考(%(groups)s)")) % {"groups": "、".join(item.groups)}


def _changes(pairs: list[tuple[str, Any, Any, Any]]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(key, str(label), _text(before), _text(after))
        for key, label, before, after in pairs
        if before != after
    )


def _line(item: PlanItemSpec) -> CourseLine:
    return CourseLine(
        item.code,
        item.name,
        _text(item.credits),
        str(KIND_LABELS.get(item.kind, item.kind)),
        _placement(item),
    )


def _item_changes(old: PlanItemSpec, new: PlanItemSpec) -> tuple[FieldChange, ...]:
    return _changes(
        [
            ("name", _("课程名称"), old.name, new.name),
            ("credits", _("学分"), old.credits, new.credits),
            (
                "kind",
                _("类型"),
                str(KIND_LABELS.get(old.kind, old.kind)),
                str(KIND_LABELS.get(new.kind, new.kind)),
            ),
            ("placement", _("必考/选考"), _placement(old), _placement(new)),
            ("practice_for", _("对应理论课程"), old.practice_for, new.practice_for),
            ("degree", _("学位课程"), old.degree, new.degree),
            ("min_passed_courses", _("先修门数要求"), old.min_passed_courses, new.min_passed_courses),
        ]
    )


def _group_changes(old: GroupSpec, new: GroupSpec) -> tuple[FieldChange, ...]:
    return _changes(
        [
            ("title", _("名称"), old.title, new.title),
            ("courses", _("课程"), old.courses, new.courses),
            ("min_courses", _("至少门数"), old.min_courses, new.min_courses),
            ("min_credits", _("至少学分"), old.min_credits, new.min_credits),
            ("max_courses", _("最多计入门数"), old.max_courses, new.max_courses),
        ]
    )


def _path_changes(old: PathSpec, new: PathSpec) -> tuple[FieldChange, ...]:
    return _changes(
        [
            ("title", _("名称"), old.title, new.title),
            ("groups", _("适用课程组"), old.groups, new.groups),
            ("min_total_credits", _("最低总学分"), old.min_total_credits, new.min_total_credits),
        ]
    )


def _parts(old: tuple, new: tuple, compare) -> tuple[PartChange, ...]:
    before = {part.id: part for part in old}
    after = {part.id: part for part in new}
    result: list[PartChange] = []
    for part in new:
        if part.id not in before:
            result.append(PartChange(part.id, part.title, "added"))
        else:
            changes = compare(before[part.id], part)
            if changes:
                result.append(PartChange(part.id, part.title, "changed", changes))
    result.extend(PartChange(part.id, part.title, "removed") for part in old if part.id not in after)
    return tuple(result)


def plan_diff(old: PlanSpec, new: PlanSpec) -> PlanDiff:
    """The differences from `old` to `new` (courses in `new`'s row order, removed ones in
    `old`'s)."""
    plan = _changes(
        [
            ("major_name", _("专业名称"), old.major_name, new.major_name),
            ("school", _("主考学校"), old.school, new.school),
            ("province_code", _("省专业代码"), old.province_code, new.province_code),
            ("min_total_credits", _("最低总学分"), old.min_total_credits, new.min_total_credits),
            ("effective_from", _("生效日期"), old.effective_from, new.effective_from),
            (
                "old_candidates_registered_before",
                _("过渡期适用于此日前注册的考生"),
                old.old_candidates_registered_before,
                new.old_candidates_registered_before,
            ),
            ("graduate_until", _("过渡期毕业截止"), old.graduate_until, new.graduate_until),
        ]
    )
    old_items = {item.code: item for item in old.items}
    new_codes = set(new.codes)
    added = tuple(_line(item) for item in new.items if item.code not in old_items)
    removed = tuple(_line(item) for item in old.items if item.code not in new_codes)
    changed = tuple(
        CourseChange(item.code, item.name, changes)
        for item in new.items
        if item.code in old_items and (changes := _item_changes(old_items[item.code], item))
    )
    return PlanDiff(
        plan=plan,
        added=added,
        removed=removed,
        changed=changed,
        groups=_parts(old.groups, new.groups, _group_changes),
        paths=_parts(old.paths, new.paths, _path_changes),
    )
