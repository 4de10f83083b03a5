"""Plan files: parse and validate the three TOML documents that describe exam plans.

The format is specified in docs/plan-format.md. Three kinds of document exist:

* a **plan** (`[plan]` + `[[item]]` + `[[group]]` + `[[path]]`): one version of one major's plan;
* a **substitution table** (`[table]` + `[[row]]`): 顶替 between two versions of one major's plan;
* **politics rules** (`[politics]` + `[[old_course]]` + `[[rule]]`): the province's replacement
  rules for the new politics courses.

Parsing is pure: the course catalog is passed in as a mapping (code → `CatalogCourse`), so the
same function serves the importer (catalog from the Course table), the tests (catalog from
data/courses.csv) and a dry run. Every semantic problem is reported with the line of the
`[[item]]`/`[[group]]`/… block (or of the offending key inside it), all problems of a file at
once, in a `PlanFileError` (a `ValidationFailed` with a stable code).

The parsed documents are immutable dataclasses with `to_json()` / `from_json()` so that they can
be stored in `Plan.spec` (and the substitution / politics models) and rebuilt without re-parsing.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import combinations
from typing import Any

from django.utils.translation import gettext_lazy as _

from zikao.core.errors import ValidationFailed

FORMAT_VERSION = 1
LEVELS = ("zhuanke", "benke")
KINDS = ("theory", "practice", "thesis")
_CODE_RE = re.compile(r"^\d{5}$")
_MAJOR_RE = re.compile(r"^\d{6}[KT]?$")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


# --- catalog and errors --------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogCourse:
    """What the parser needs to know about a national course (from the Course table or courses.csv)."""

    code: str
    name: str
    credits: int | Decimal
    kind: str


def normalize_credits(value: int | Decimal | str) -> int | Decimal:
    """Credits as an int when whole (almost always), else the exact Decimal (02277: 3.5)."""
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else number


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (1-based line, 0 when unknown), what (stable code), why."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        where = _("第%(line)d行") % {"line": self.line} if self.line else _("文件")
        return f"{where}: [{self.code}] {self.message}"


class PlanFileError(ValidationFailed):
    """A plan / substitution / politics file was refused; `problems` lists every problem found.

    `code` is the problems' shared code when they all share one, else ``PLAN_INVALID``; the
    message has one line per problem, each naming its line, so a command can print it as is.
    """

    def __init__(self, problems: Iterable[Problem], source_name: str = ""):
        self.problems = sorted(problems, key=lambda p: (p.line, p.code))
        codes = {p.code for p in self.problems}
        code = codes.pop() if len(codes) == 1 else "PLAN_INVALID"
        prefix = f"{source_name}: " if source_name else ""
        message = "\n".join(prefix + str(p) for p in self.problems)
        super().__init__(
            code,
            message,
            {
                "problems": [
                    {"line": p.line, "code": p.code, "message": str(p.message)} for p in self.problems
                ]
            },
        )

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


def read_course_csv(text: str) -> tuple[dict[str, CatalogCourse], list[tuple[str, str]]]:
    """Parse data/courses.csv text (code,name,credits,kind) → ({code: course}, [(code, reason)]).

    Half credits (02277 微型计算机原理及应用 3.5 / 02278 0.5) are kept as exact Decimals; a row
    whose credits are not a number, or whose code or kind is malformed, is returned as skipped.
    """
    import csv
    import io

    courses: dict[str, CatalogCourse] = {}
    skipped: list[tuple[str, str]] = []
    for row in csv.DictReader(io.StringIO(text)):
        code, credits = row["code"].strip(), row["credits"].strip()
        if not re.fullmatch(r"\d{1,2}(\.5)?", credits):
            skipped.append((code, f"credits {credits} is not a number of (half) credits"))
            continue
        if not _CODE_RE.match(code) or row["kind"] not in KINDS:
            skipped.append((code, "bad code or kind"))
            continue
        courses[code] = CatalogCourse(code, row["name"].strip(), normalize_credits(credits), row["kind"])
    return courses, skipped


# --- locating blocks and keys in the raw text ------------------------------------------------

_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(#.*)?$")


class _Locator:
    """Maps "the n-th [[item]]" and "key k inside it" to line numbers by scanning the raw text.

    tomllib gives no positions for values, so the parser remembers where each table header is
    and searches the block below it for `key =`; good enough for error messages, which is all
    it is used for.
    """

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str, bool]] = []  # (line, name, is_array)
        for number, raw in enumerate(self.lines, start=1):
            match = _HEADER_RE.match(raw)
            if match:
                self.headers.append((number, match.group(2), match.group(1) == "[["))

    def block(self, name: str, index: int | None = None) -> tuple[int, int]:
        """(first line, last line) of `[name]` or of the index-th `[[name]]` (0, 0 if absent)."""
        seen = -1
        for position, (line, header, is_array) in enumerate(self.headers):
            if header != name:
                continue
            if index is None and not is_array:
                return line, self._block_end(position)
            if index is not None and is_array:
                seen += 1
                if seen == index:
                    return line, self._block_end(position)
        return 0, 0

    def _block_end(self, position: int) -> int:
        if position + 1 < len(self.headers):
            return self.headers[position + 1][0] - 1
        return len(self.lines)

    def line(self, name: str, index: int | None = None, key: str | None = None) -> int:
        """Line of `key` inside the block (or of the block header; 0 when nothing is found)."""
        if name == "":
            start, end = 1, (self.headers[0][0] - 1 if self.headers else len(self.lines))
            header = 0
        else:
            start, end = self.block(name, index)
            header = start
            if start == 0:
                return 0
        if key is not None:
            key_re = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
            for number in range(start, end + 1):
                if key_re.match(self.lines[number - 1]):
                    return number
        return header


class _Collector:
    """Accumulates problems; `require`/`optional` read typed values and report what is wrong."""

    def __init__(self, locator: _Locator):
        self.locator = locator
        self.problems: list[Problem] = []

    def add(self, line: int, code: str, message: Any) -> None:
        self.problems.append(Problem(line, code, str(message)))

    def check_keys(
        self, table: Mapping[str, Any], allowed: Iterable[str], where: tuple[str, int | None]
    ) -> None:
        allowed_set = set(allowed)
        for key in table:
            if key not in allowed_set:
                self.add(
                    self.locator.line(where[0], where[1], key),
                    "PLAN_UNKNOWN_KEY",
                    _("未知的键“%(key)s”(允许: %(allowed)s)。")
                    % {"key": key, "allowed": ", ".join(sorted(allowed_set))},
                )

    def get(
        self,
        table: Mapping[str, Any],
        key: str,
        types: type | tuple[type, ...],
        where: tuple[str, int | None],
        *,
        required: bool = True,
        default: Any = None,
    ) -> Any:
        if key not in table:
            if required:
                self.add(
                    self.locator.line(where[0], where[1]),
                    "PLAN_MISSING_KEY",
                    _("缺少必填键“%(key)s”。") % {"key": key},
                )
            return default
        value = table[key]
        bad_bool = isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,))
        if not isinstance(value, types) or bad_bool:
            self.add(
                self.locator.line(where[0], where[1], key),
                "PLAN_BAD_VALUE",
                _("键“%(key)s”的值类型不正确。") % {"key": key},
            )
            return default
        return value

    def codes(
        self, table: Mapping[str, Any], key: str, where: tuple[str, int | None], *, required: bool = True
    ):
        value = self.get(table, key, list, where, required=required, default=[])
        result: list[str] = []
        for code in value:
            if not isinstance(code, str) or not _CODE_RE.match(code):
                self.add(
                    self.locator.line(where[0], where[1], key),
                    "PLAN_BAD_VALUE",
                    _("“%(key)s”中的课程代码“%(code)s”应为5位数字字符串。") % {"key": key, "code": code},
                )
                continue
            result.append(code)
        return result

    def fail_if_any(self, source_name: str) -> None:
        if self.problems:
            raise PlanFileError(self.problems, source_name)


_TOML_POSITION_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _load_toml(text: str, source_name: str) -> dict[str, Any]:
    """tomllib, with its syntax error turned into a PLAN_SYNTAX problem on tomllib's line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION_RE.search(str(exc))
        line = int(match.group(1)) if match else 0
        raise PlanFileError(
            [Problem(line, "PLAN_SYNTAX", str(_("TOML语法错误: %(error)s")) % {"error": exc})], source_name
        ) from None


def detect_kind(text: str) -> str:
    """Which document a text is: "plan", "substitution" or "politics" (by its top-level table).

    Raises PlanFileError (PLAN_SYNTAX / PLAN_UNKNOWN_KIND) when it is none of them.
    """
    data = _load_toml(text, "")
    kinds = [
        kind
        for key, kind in (("plan", "plan"), ("table", "substitution"), ("politics", "politics"))
        if key in data
    ]
    if len(kinds) != 1:
        raise PlanFileError(
            [
                Problem(
                    0, "PLAN_UNKNOWN_KIND", str(_("文件必须且只能包含 [plan]、[table] 或 [politics] 之一。"))
                )
            ]
        )
    return kinds[0]


# --- the plan document ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlanItemSpec:
    """One course row of a plan, in printed row order.

    `groups` is derived (the groups that list the course); an item in no group is required.
    `practice_for` pairs a practice part with its theory course (entered only after it);
    `min_passed_courses` is a precondition such as 590202's 14105 (only after ≥10 courses).
    """

    row: int
    code: str
    name: str
    credits: int
    kind: str
    practice_for: str | None = None
    degree: bool = False
    min_passed_courses: int | None = None
    notes: str = ""
    groups: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return not self.groups


@dataclass(frozen=True)
class GroupSpec:
    """A set of optional courses with a rule: at least `min_courses` courses and `min_credits`
    credits; at most `max_courses` of them count (1 = "choose one"; None = all count)."""

    id: str
    title: str
    courses: tuple[str, ...]
    min_courses: int = 0
    min_credits: int = 0
    max_courses: int | None = None
    notes: str = ""

    @property
    def is_choice(self) -> bool:
        return self.max_courses == 1


@dataclass(frozen=True)
class PathSpec:
    """An alternative way through the plan (050101 考外语者 / 不考外语者): which groups apply and
    the minimum total credits it implies."""

    id: str
    title: str
    groups: tuple[str, ...]
    min_total_credits: int
    notes: str = ""


@dataclass(frozen=True)
class PlanSpec:
    """One validated plan version. `paths` always has at least one entry (an implicit
    "default" path with every group when the file declares none)."""

    major_code: str
    major_name: str
    level: str
    version: int
    school: str
    min_total_credits: int
    items: tuple[PlanItemSpec, ...]
    groups: tuple[GroupSpec, ...] = ()
    paths: tuple[PathSpec, ...] = ()
    province_code: str = ""
    school_code: str = ""
    effective_from: date | None = None
    graduate_until: date | None = None
    old_candidates_registered_before: date | None = None
    notes: str = ""
    format: int = FORMAT_VERSION

    @property
    def key(self) -> str:
        return f"{self.major_code}_{self.level}_{self.version}"

    def item(self, code: str) -> PlanItemSpec | None:
        for item in self.items:
            if item.code == code:
                return item
        return None

    def group(self, group_id: str) -> GroupSpec:
        for group in self.groups:
            if group.id == group_id:
                return group
        raise KeyError(group_id)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (dates as ISO strings) that `from_json` turns back into an equal spec."""
        return {
            "format": self.format,
            "major_code": self.major_code,
            "major_name": self.major_name,
            "level": self.level,
            "version": self.version,
            "school": self.school,
            "school_code": self.school_code,
            "province_code": self.province_code,
            "min_total_credits": self.min_total_credits,
            "effective_from": _iso(self.effective_from),
            "graduate_until": _iso(self.graduate_until),
            "old_candidates_registered_before": _iso(self.old_candidates_registered_before),
            "notes": self.notes,
            "items": [
                {
                    "row": i.row,
                    "code": i.code,
                    "name": i.name,
                    "credits": i.credits,
                    "kind": i.kind,
                    "practice_for": i.practice_for,
                    "degree": i.degree,
                    "min_passed_courses": i.min_passed_courses,
                    "notes": i.notes,
                    "groups": list(i.groups),
                }
                for i in self.items
            ],
            "groups": [
                {
                    "id": g.id,
                    "title": g.title,
                    "courses": list(g.courses),
                    "min_courses": g.min_courses,
                    "min_credits": g.min_credits,
                    "max_courses": g.max_courses,
                    "notes": g.notes,
                }
                for g in self.groups
            ],
            "paths": [
                {
                    "id": p.id,
                    "title": p.title,
                    "groups": list(p.groups),
                    "min_total_credits": p.min_total_credits,
                    "notes": p.notes,
                }
                for p in self.paths
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanSpec:
        return cls(
            format=data.get("format", FORMAT_VERSION),
            major_code=data["major_code"],
            major_name=data["major_name"],
            level=data["level"],
            version=data["version"],
            school=data["school"],
            school_code=data.get("school_code", ""),
            province_code=data.get("province_code", ""),
            min_total_credits=data["min_total_credits"],
            effective_from=_from_iso(data.get("effective_from")),
            graduate_until=_from_iso(data.get("graduate_until")),
            old_candidates_registered_before=_from_iso(data.get("old_candidates_registered_before")),
            notes=data.get("notes", ""),
            items=tuple(
                PlanItemSpec(
                    row=i["row"],
                    code=i["code"],
                    name=i["name"],
                    credits=i["credits"],
                    kind=i["kind"],
                    practice_for=i.get("practice_for"),
                    degree=i.get("degree", False),
                    min_passed_courses=i.get("min_passed_courses"),
                    notes=i.get("notes", ""),
                    groups=tuple(i.get("groups", ())),
                )
                for i in data["items"]
            ),
            groups=tuple(
                GroupSpec(
                    id=g["id"],
                    title=g["title"],
                    courses=tuple(g["courses"]),
                    min_courses=g["min_courses"],
                    min_credits=g["min_credits"],
                    max_courses=g.get("max_courses"),
                    notes=g.get("notes", ""),
                )
                for g in data.get("groups", ())
            ),
            paths=tuple(
                PathSpec(
                    id=p["id"],
                    title=p["title"],
                    groups=tuple(p["groups"]),
                    min_total_credits=p["min_total_credits"],
                    notes=p.get("notes", ""),
                )
                for p in data.get("paths", ())
            ),
        )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _from_iso(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


_PLAN_KEYS = (
    "major_code",
    "major_name",
    "level",
    "version",
    "school",
    "school_code",
    "province_code",
    "min_total_credits",
    "effective_from",
    "graduate_until",
    "old_candidates_registered_before",
    "notes",
)
_ITEM_KEYS = ("course", "name", "credits", "kind", "practice_for", "degree", "min_passed_courses", "notes")
_GROUP_KEYS = ("id", "title", "courses", "min_courses", "min_credits", "max_courses", "notes")
_PATH_KEYS = ("id", "title", "groups", "min_total_credits", "notes")


def group_credit_bounds(group: GroupSpec, credits_of: Mapping[str, int]) -> tuple[int, int] | None:
    """(fewest, most) credits a satisfied group can contribute; None if it can never be satisfied.

    Small exhaustive search over subsets: plan groups hold a handful of courses.
    """
    values = [credits_of[c] for c in group.courses if c in credits_of]
    cap = group.max_courses if group.max_courses is not None else len(values)
    feasible: list[int] = []
    for size in range(group.min_courses, min(cap, len(values)) + 1):
        for subset in combinations(values, size):
            if sum(subset) >= group.min_credits:
                feasible.append(sum(subset))
    if not feasible:
        return None
    return min(feasible), max(feasible)


def parse_plan(text: str, *, courses: Mapping[str, CatalogCourse], source_name: str = "") -> PlanSpec:
    """Parse and validate a plan file against the course catalog; return the immutable spec.

    Refuses (PlanFileError, all problems at once, each with its line): PLAN_SYNTAX,
    PLAN_UNKNOWN_KEY, PLAN_MISSING_KEY, PLAN_BAD_VALUE, PLAN_UNKNOWN_COURSE,
    PLAN_COURSE_MISMATCH (name/credits/kind differ from the catalog: a plan prints the national
    course's own credits, so they must agree), PLAN_DUPLICATE_COURSE, PLAN_THESIS_CREDITS,
    PLAN_PRACTICE_WITHOUT_THEORY, PLAN_UNKNOWN_GROUP, PLAN_GROUP_OVERLAP, PLAN_GROUP_UNUSED,
    PLAN_GROUP_UNSATISFIABLE, PLAN_PRECONDITION, PLAN_TOTAL_UNREACHABLE, PLAN_TOTAL_INCONSISTENT.
    """
    data = _load_toml(text, source_name)
    loc = _Locator(text)
    col = _Collector(loc)

    col.check_keys(data, ("format", "plan", "item", "group", "path"), ("", None))
    fmt = col.get(data, "format", int, ("", None), required=False, default=FORMAT_VERSION)
    if fmt != FORMAT_VERSION:
        col.add(
            loc.line("", None, "format"),
            "PLAN_BAD_VALUE",
            _("不支持的格式版本 %(format)s。") % {"format": fmt},
        )

    meta = col.get(data, "plan", dict, ("plan", None), required=False, default={})
    if "plan" not in data:
        col.add(0, "PLAN_MISSING_KEY", _("缺少 [plan] 表。"))
    where: tuple[str, int | None] = ("plan", None)
    col.check_keys(meta, _PLAN_KEYS, where)
    major_code = col.get(meta, "major_code", str, where, default="")
    if major_code and not _MAJOR_RE.match(major_code):
        col.add(
            loc.line("plan", None, "major_code"),
            "PLAN_BAD_VALUE",
            _("专业代码“%(code)s”应为6位数字加可选K/T。") % {"code": major_code},
        )
    major_name = col.get(meta, "major_name", str, where, default="")
    level = col.get(meta, "level", str, where, default="")
    if level and level not in LEVELS:
        col.add(loc.line("plan", None, "level"), "PLAN_BAD_VALUE", _("层次应为 zhuanke 或 benke。"))
    version = col.get(meta, "version", int, where, default=0)
    school = col.get(meta, "school", str, where, default="")
    min_total = col.get(meta, "min_total_credits", int, where, default=0)
    dates = {
        key: col.get(meta, key, date, where, required=False)
        for key in ("effective_from", "graduate_until", "old_candidates_registered_before")
    }

    # items
    raw_items = col.get(data, "item", list, ("item", 0), required=False, default=[])
    items: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        where = ("item", index)
        line = loc.line("item", index)
        if not isinstance(raw, dict):
            col.add(line, "PLAN_BAD_VALUE", _("[[item]] 应为表。"))
            continue
        col.check_keys(raw, _ITEM_KEYS, where)
        code = col.get(raw, "course", str, where, default="")
        name = col.get(raw, "name", str, where, default="")
        credits = col.get(raw, "credits", int, where, default=0)
        kind = col.get(raw, "kind", str, where, default="")
        practice_for = col.get(raw, "practice_for", str, where, required=False)
        degree = col.get(raw, "degree", bool, where, required=False, default=False)
        min_passed = col.get(raw, "min_passed_courses", int, where, required=False)
        notes = col.get(raw, "notes", str, where, required=False, default="")
        if not code:
            continue
        if not _CODE_RE.match(code):
            col.add(
                loc.line("item", index, "course"),
                "PLAN_BAD_VALUE",
                _("课程代码“%(code)s”应为5位数字。") % {"code": code},
            )
            continue
        if code in seen:
            col.add(
                loc.line("item", index, "course"),
                "PLAN_DUPLICATE_COURSE",
                _("课程 %(code)s 重复(第%(first)d行已列出)。") % {"code": code, "first": seen[code]},
            )
            continue
        seen[code] = loc.line("item", index, "course")
        if kind and kind not in KINDS:
            col.add(
                loc.line("item", index, "kind"),
                "PLAN_BAD_VALUE",
                _("课程类型应为 theory、practice 或 thesis。"),
            )
        if credits < 0:
            col.add(loc.line("item", index, "credits"), "PLAN_BAD_VALUE", _("学分不能为负数。"))
        catalog = courses.get(code)
        if catalog is None:
            col.add(
                loc.line("item", index, "course"),
                "PLAN_UNKNOWN_COURSE",
                _("课程代码 %(code)s 不在课程目录中。") % {"code": code},
            )
        else:
            for key, mine, theirs in (
                ("name", name, catalog.name),
                ("credits", credits, catalog.credits),
                ("kind", kind, catalog.kind),
            ):
                if mine != theirs:
                    col.add(
                        loc.line("item", index, key),
                        "PLAN_COURSE_MISMATCH",
                        _("课程 %(code)s 的 %(key)s 为“%(mine)s”,与课程目录中的“%(theirs)s”不一致。")
                        % {"code": code, "key": key, "mine": mine, "theirs": theirs},
                    )
        if kind == "thesis" and credits != 0:
            col.add(
                loc.line("item", index, "credits"),
                "PLAN_THESIS_CREDITS",
                _("毕业论文/设计 %(code)s 不计学分,credits 必须为 0。") % {"code": code},
            )
        if practice_for is not None and kind != "practice":
            col.add(
                loc.line("item", index, "practice_for"),
                "PLAN_BAD_VALUE",
                _("只有实践课程可以设置 practice_for。"),
            )
        if min_passed is not None and min_passed < 1:
            col.add(
                loc.line("item", index, "min_passed_courses"),
                "PLAN_BAD_VALUE",
                _("min_passed_courses 必须为正整数。"),
            )
        items.append(
            {
                "index": index,
                "row": len(items) + 1,
                "code": code,
                "name": name,
                "credits": credits,
                "kind": kind,
                "practice_for": practice_for,
                "degree": degree,
                "min_passed_courses": min_passed,
                "notes": notes,
            }
        )
    if "item" not in data:
        col.add(0, "PLAN_MISSING_KEY", _("计划中没有任何 [[item]]。"))

    by_code = {i["code"]: i for i in items}
    for item in items:
        target = item["practice_for"]
        if target is None:
            continue
        line = loc.line("item", item["index"], "practice_for")
        if target not in by_code:
            col.add(
                line,
                "PLAN_PRACTICE_WITHOUT_THEORY",
                _("实践课程 %(code)s 对应的理论课程 %(theory)s 不在本计划中。")
                % {"code": item["code"], "theory": target},
            )
        elif by_code[target]["kind"] != "theory":
            col.add(
                line,
                "PLAN_PRACTICE_WITHOUT_THEORY",
                _("实践课程 %(code)s 对应的 %(theory)s 不是理论课程。")
                % {"code": item["code"], "theory": target},
            )
        elif by_code[target]["row"] > item["row"]:
            col.add(
                line,
                "PLAN_PRACTICE_WITHOUT_THEORY",
                _("实践课程 %(code)s 必须列在其理论课程 %(theory)s 之后。")
                % {"code": item["code"], "theory": target},
            )

    # groups
    raw_groups = col.get(data, "group", list, ("group", 0), required=False, default=[])
    groups: list[GroupSpec] = []
    group_index: dict[str, int] = {}
    for index, raw in enumerate(raw_groups):
        where = ("group", index)
        if not isinstance(raw, dict):
            col.add(loc.line("group", index), "PLAN_BAD_VALUE", _("[[group]] 应为表。"))
            continue
        col.check_keys(raw, _GROUP_KEYS, where)
        gid = col.get(raw, "id", str, where, default="")
        title = col.get(raw, "title", str, where, default="")
        members = col.codes(raw, "courses", where)
        gmin = col.get(raw, "min_courses", int, where, required=False, default=0)
        gcredits = col.get(raw, "min_credits", int, where, required=False, default=0)
        gmax = col.get(raw, "max_courses", int, where, required=False)
        gnotes = col.get(raw, "notes", str, where, required=False, default="")
        if not gid:
            continue
        if not _ID_RE.match(gid):
            col.add(
                loc.line("group", index, "id"),
                "PLAN_BAD_VALUE",
                _("组标识“%(id)s”应为小写字母、数字和下划线。") % {"id": gid},
            )
        if gid in group_index:
            col.add(loc.line("group", index, "id"), "PLAN_BAD_VALUE", _("组标识“%(id)s”重复。") % {"id": gid})
            continue
        for code in members:
            if code not in by_code:
                col.add(
                    loc.line("group", index, "courses"),
                    "PLAN_UNKNOWN_COURSE",
                    _("组“%(id)s”中的课程 %(code)s 不是本计划的 [[item]]。") % {"id": gid, "code": code},
                )
        if len(set(members)) != len(members):
            col.add(
                loc.line("group", index, "courses"),
                "PLAN_DUPLICATE_COURSE",
                _("组“%(id)s”中有重复课程。") % {"id": gid},
            )
        if not members:
            col.add(
                loc.line("group", index, "courses"),
                "PLAN_GROUP_UNSATISFIABLE",
                _("组“%(id)s”没有课程。") % {"id": gid},
            )
        if gmin < 0 or gcredits < 0 or (gmax is not None and gmax < 1) or (gmin == 0 and gcredits == 0):
            col.add(
                loc.line("group", index),
                "PLAN_BAD_VALUE",
                _("组“%(id)s”须要求至少1门课程或若干学分,且 max_courses ≥ 1。") % {"id": gid},
            )
        group = GroupSpec(gid, title, tuple(dict.fromkeys(members)), gmin, gcredits, gmax, gnotes)
        credits_of = {c: by_code[c]["credits"] for c in group.courses if c in by_code}
        checkable = (
            members and all(c in by_code for c in members) and gmin >= 0 and (gmax is None or gmax >= 1)
        )
        if checkable and group_credit_bounds(group, credits_of) is None:
            col.add(
                loc.line("group", index),
                "PLAN_GROUP_UNSATISFIABLE",
                _(
                    "组“%(id)s”永远无法满足: 需要至少%(n)d门、%(m)d学分(最多计%(cap)s门),"
                    "而组内共%(size)d门、%(total)d学分。"
                )
                % {
                    "id": gid,
                    "n": gmin,
                    "m": gcredits,
                    "cap": gmax if gmax is not None else len(members),
                    "size": len(members),
                    "total": sum(credits_of.values()),
                },
            )
        group_index[gid] = index
        groups.append(group)

    # paths
    raw_paths = col.get(data, "path", list, ("path", 0), required=False, default=[])
    paths: list[PathSpec] = []
    path_lines: list[int] = []
    for index, raw in enumerate(raw_paths):
        where = ("path", index)
        if not isinstance(raw, dict):
            col.add(loc.line("path", index), "PLAN_BAD_VALUE", _("[[path]] 应为表。"))
            continue
        col.check_keys(raw, _PATH_KEYS, where)
        pid = col.get(raw, "id", str, where, default="")
        title = col.get(raw, "title", str, where, default="")
        pgroups = col.get(raw, "groups", list, where, default=[])
        pmin = col.get(raw, "min_total_credits", int, where, required=False, default=min_total)
        pnotes = col.get(raw, "notes", str, where, required=False, default="")
        for gid in pgroups:
            if gid not in group_index:
                col.add(
                    loc.line("path", index, "groups"),
                    "PLAN_UNKNOWN_GROUP",
                    _("路径“%(path)s”引用了不存在的组“%(group)s”。") % {"path": pid, "group": gid},
                )
        if any(p.id == pid for p in paths):
            col.add(
                loc.line("path", index, "id"), "PLAN_BAD_VALUE", _("路径标识“%(id)s”重复。") % {"id": pid}
            )
            continue
        paths.append(PathSpec(pid, title, tuple(g for g in pgroups if g in group_index), pmin, pnotes))
        path_lines.append(loc.line("path", index))
    if not raw_paths:
        paths = [PathSpec("default", str(_("唯一路径")), tuple(g.id for g in groups), min_total)]
        path_lines = [loc.line("plan", None, "min_total_credits")]

    # group use
    used = {gid for path in paths for gid in path.groups}
    for group in groups:
        if group.id not in used:
            col.add(
                loc.line("group", group_index[group.id]),
                "PLAN_GROUP_UNUSED",
                _("组“%(id)s”没有被任何路径使用。") % {"id": group.id},
            )
    member_groups: dict[str, list[str]] = {}
    for group in groups:
        for code in group.courses:
            member_groups.setdefault(code, []).append(group.id)
    by_id = {g.id: g for g in groups}
    for path, line in zip(paths, path_lines, strict=True):
        counted: dict[str, str] = {}
        for gid in path.groups:
            for code in by_id[gid].courses:
                if code in counted:
                    col.add(
                        line,
                        "PLAN_GROUP_OVERLAP",
                        _("路径“%(path)s”中课程 %(code)s 同时属于组“%(a)s”和“%(b)s”。")
                        % {"path": path.id, "code": code, "a": counted[code], "b": gid},
                    )
                counted[code] = gid

    # preconditions
    for item in items:
        needed = item["min_passed_courses"]
        others = sum(1 for i in items if i["code"] != item["code"] and i["kind"] != "thesis")
        if needed is not None and needed > others:
            col.add(
                loc.line("item", item["index"], "min_passed_courses"),
                "PLAN_PRECONDITION",
                _("课程 %(code)s 要求先通过%(n)d门课程,但计划中只有%(m)d门其他课程。")
                % {"code": item["code"], "n": needed, "m": others},
            )

    # totals
    if not col.problems:
        credits_of = {i["code"]: i["credits"] for i in items}
        required_credits = sum(i["credits"] for i in items if i["code"] not in member_groups)
        lowest_path_min = min(p.min_total_credits for p in paths)
        if min_total != lowest_path_min:
            col.add(
                loc.line("plan", None, "min_total_credits"),
                "PLAN_TOTAL_INCONSISTENT",
                _("计划最低总学分 %(plan)d 应等于各路径最低学分中的最小值 %(path)d。")
                % {"plan": min_total, "path": lowest_path_min},
            )
        for path, line in zip(paths, path_lines, strict=True):
            low = high = required_credits
            for gid in path.groups:
                bounds = group_credit_bounds(by_id[gid], credits_of)
                assert bounds is not None  # unsatisfiable groups were reported above
                low += bounds[0]
                high += bounds[1]
            if path.min_total_credits > high:
                col.add(
                    line,
                    "PLAN_TOTAL_UNREACHABLE",
                    _("路径“%(path)s”的最低总学分 %(min)d 无法达到: 全部课程最多 %(high)d 学分。")
                    % {"path": path.id, "min": path.min_total_credits, "high": high},
                )
            elif path.min_total_credits < low:
                col.add(
                    line,
                    "PLAN_TOTAL_INCONSISTENT",
                    _("路径“%(path)s”的最低总学分 %(min)d 与课程不符: 完成全部要求至少已有 %(low)d 学分。")
                    % {"path": path.id, "min": path.min_total_credits, "low": low},
                )

    col.fail_if_any(source_name)
    return PlanSpec(
        major_code=major_code,
        major_name=major_name,
        level=level,
        version=version,
        school=school,
        school_code=meta.get("school_code", "") if isinstance(meta.get("school_code", ""), str) else "",
        province_code=meta.get("province_code", "") if isinstance(meta.get("province_code", ""), str) else "",
        min_total_credits=min_total,
        effective_from=dates["effective_from"],
        graduate_until=dates["graduate_until"],
        old_candidates_registered_before=dates["old_candidates_registered_before"],
        notes=meta.get("notes", "") if isinstance(meta.get("notes", ""), str) else "",
        items=tuple(
            PlanItemSpec(
                row=i["row"],
                code=i["code"],
                name=i["name"],
                credits=i["credits"],
                kind=i["kind"],
                practice_for=i["practice_for"],
                degree=i["degree"],
                min_passed_courses=i["min_passed_courses"],
                notes=i["notes"],
                groups=tuple(member_groups.get(i["code"], ())),
            )
            for i in items
        ),
        groups=tuple(groups),
        paths=tuple(paths),
    )


# --- substitution tables -------------------------------------------------------------------


@dataclass(frozen=True)
class SubstitutionSide:
    """One side of a table row: its theory-like courses (theory or thesis), at most one practice
    part, and `min` — how many theory courses must be passed when this side is the source
    (default all). As a target, a side with min < its theory count is "one of them"."""

    theory: tuple[str, ...]
    practice: str | None
    min: int

    @property
    def is_one_of(self) -> bool:
        return self.min < len(self.theory)

    def to_json(self) -> dict[str, Any]:
        return {"theory": list(self.theory), "practice": self.practice, "min": self.min}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubstitutionSide:
        return cls(tuple(data["theory"]), data.get("practice"), data["min"])


@dataclass(frozen=True)
class SubstitutionRow:
    """A row of the side-by-side table: `old` (from-version) ↔ `new` (to-version)."""

    old_row: str
    new_row: str
    old: SubstitutionSide
    new: SubstitutionSide
    reversible: bool = True
    notes: str = ""

    @property
    def label(self) -> str:
        return f"{self.old_row}→{self.new_row}"

    def to_json(self) -> dict[str, Any]:
        return {
            "old_row": self.old_row,
            "new_row": self.new_row,
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "reversible": self.reversible,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubstitutionRow:
        return cls(
            data["old_row"],
            data["new_row"],
            SubstitutionSide.from_json(data["old"]),
            SubstitutionSide.from_json(data["new"]),
            data.get("reversible", True),
            data.get("notes", ""),
        )


@dataclass(frozen=True)
class SubstitutionTable:
    """顶替 table between two versions of one major's plan, usable in both directions.

    `from_plan_courses` / `to_plan_courses` (code, credits) are the course lists of the two plan
    versions; they are not in the file but filled from the stored plans (planstore) so that the
    engine can apply general rule 4 (old courses without a substitution relation count toward
    the credits of the new plan). Empty tuples simply disable that rule.
    """

    id: str
    major_code: str
    level: str
    from_version: int
    to_version: int
    rows: tuple[SubstitutionRow, ...]
    notes: str = ""
    from_plan_courses: tuple[tuple[str, int], ...] = field(default=())
    to_plan_courses: tuple[tuple[str, int], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "major_code": self.major_code,
            "level": self.level,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "notes": self.notes,
            "rows": [r.to_json() for r in self.rows],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubstitutionTable:
        return cls(
            id=data["id"],
            major_code=data["major_code"],
            level=data["level"],
            from_version=data["from_version"],
            to_version=data["to_version"],
            notes=data.get("notes", ""),
            rows=tuple(SubstitutionRow.from_json(r) for r in data["rows"]),
        )


_TABLE_KEYS = ("id", "major_code", "level", "from_version", "to_version", "notes")
_ROW_KEYS = ("old_row", "new_row", "old", "new", "old_min", "new_min", "reversible", "notes")


def parse_substitution_table(
    text: str, *, courses: Mapping[str, CatalogCourse], source_name: str = ""
) -> SubstitutionTable:
    """Parse and validate a substitution table (docs/plan-format.md, "Substitution tables").

    Refuses (PlanFileError): PLAN_SYNTAX, PLAN_UNKNOWN_KEY, PLAN_MISSING_KEY, PLAN_BAD_VALUE,
    PLAN_UNKNOWN_COURSE, SUBST_PRACTICE (more than one practice part on a side, or practice on
    a "one of" side), SUBST_MIN (min outside 1..number of theory courses, or a reversible side
    that would be a target with a min that is neither 1 nor all).
    """
    data = _load_toml(text, source_name)
    loc = _Locator(text)
    col = _Collector(loc)
    col.check_keys(data, ("format", "table", "row"), ("", None))
    meta = col.get(data, "table", dict, ("table", None), default={})
    where: tuple[str, int | None] = ("table", None)
    col.check_keys(meta, _TABLE_KEYS, where)
    table_id = col.get(meta, "id", str, where, default="")
    major_code = col.get(meta, "major_code", str, where, default="")
    level = col.get(meta, "level", str, where, default="")
    if level and level not in LEVELS:
        col.add(loc.line("table", None, "level"), "PLAN_BAD_VALUE", _("层次应为 zhuanke 或 benke。"))
    from_version = col.get(meta, "from_version", int, where, default=0)
    to_version = col.get(meta, "to_version", int, where, default=0)
    if from_version and to_version and from_version >= to_version:
        col.add(
            loc.line("table", None, "to_version"), "PLAN_BAD_VALUE", _("to_version 必须晚于 from_version。")
        )
    notes = col.get(meta, "notes", str, where, required=False, default="")

    rows: list[SubstitutionRow] = []
    for index, raw in enumerate(col.get(data, "row", list, ("row", 0), default=[])):
        where = ("row", index)
        if not isinstance(raw, dict):
            col.add(loc.line("row", index), "PLAN_BAD_VALUE", _("[[row]] 应为表。"))
            continue
        col.check_keys(raw, _ROW_KEYS, where)
        old_row = str(col.get(raw, "old_row", (str, int), where, default=""))
        new_row = str(col.get(raw, "new_row", (str, int), where, default=""))
        reversible = col.get(raw, "reversible", bool, where, required=False, default=True)
        row_notes = col.get(raw, "notes", str, where, required=False, default="")
        sides: dict[str, SubstitutionSide] = {}
        for side in ("old", "new"):
            codes = col.codes(raw, side, where)
            theory: list[str] = []
            practice: list[str] = []
            for code in codes:
                course = courses.get(code)
                if course is None:
                    col.add(
                        loc.line("row", index, side),
                        "PLAN_UNKNOWN_COURSE",
                        _("课程代码 %(code)s 不在课程目录中。") % {"code": code},
                    )
                    continue
                (practice if course.kind == "practice" else theory).append(code)
            minimum = col.get(raw, f"{side}_min", int, where, required=False, default=len(theory))
            line = loc.line("row", index, side)
            if len(practice) > 1:
                col.add(line, "SUBST_PRACTICE", _("每一侧最多一门实践课程。"))
            if not theory and codes:
                col.add(line, "SUBST_PRACTICE", _("每一侧至少要有一门理论课程。"))
            if theory and not 1 <= minimum <= len(theory):
                col.add(
                    loc.line("row", index, f"{side}_min") or line,
                    "SUBST_MIN",
                    _("%(side)s_min 必须在 1 到 %(n)d 之间。") % {"side": side, "n": len(theory)},
                )
            if theory and minimum < len(theory) and practice:
                col.add(line, "SUBST_PRACTICE", _("“任选其一”的一侧不能带实践课程。"))
            target_side_is_new = side == "new"
            if (target_side_is_new or reversible) and theory and 1 < minimum < len(theory):
                col.add(
                    loc.line("row", index, f"{side}_min") or line,
                    "SUBST_MIN",
                    _("作为顶替目标的一侧只能是“全部”或“任选其一”;请设 reversible = false。"),
                )
            sides[side] = SubstitutionSide(tuple(theory), practice[0] if practice else None, minimum)
        if "old" in sides and "new" in sides:
            rows.append(SubstitutionRow(old_row, new_row, sides["old"], sides["new"], reversible, row_notes))
    col.fail_if_any(source_name)
    return SubstitutionTable(table_id, major_code, level, from_version, to_version, tuple(rows), notes)


# --- politics-course rules -----------------------------------------------------------------


@dataclass(frozen=True)
class PoliticsOldCourse:
    """A numbered old politics course slot ("seq") of one level; any of its codes counts."""

    level: str
    seq: int
    codes: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class PoliticsRule:
    """If the number of distinct old seqs (among `seqs`) passed is within [min_passed,
    max_passed], the new courses `replaces` are credited. Rules of a level are tried in order."""

    level: str
    id: str
    seqs: tuple[int, ...]
    min_passed: int
    max_passed: int | None
    replaces: tuple[str, ...]
    requires: tuple[str, ...]
    text: str = ""


@dataclass(frozen=True)
class PoliticsRules:
    """The province's politics-course replacement rules; `never_replaced` (15040) wins over all."""

    id: str
    never_replaced: tuple[str, ...]
    old_courses: tuple[PoliticsOldCourse, ...]
    rules: tuple[PoliticsRule, ...]
    notes: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "never_replaced": list(self.never_replaced),
            "notes": self.notes,
            "old_courses": [
                {"level": o.level, "seq": o.seq, "codes": list(o.codes), "name": o.name}
                for o in self.old_courses
            ],
            "rules": [
                {
                    "level": r.level,
                    "id": r.id,
                    "seqs": list(r.seqs),
                    "min_passed": r.min_passed,
                    "max_passed": r.max_passed,
                    "replaces": list(r.replaces),
                    "requires": list(r.requires),
                    "text": r.text,
                }
                for r in self.rules
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PoliticsRules:
        return cls(
            id=data["id"],
            never_replaced=tuple(data["never_replaced"]),
            notes=data.get("notes", ""),
            old_courses=tuple(
                PoliticsOldCourse(o["level"], o["seq"], tuple(o["codes"]), o["name"])
                for o in data["old_courses"]
            ),
            rules=tuple(
                PoliticsRule(
                    r["level"],
                    r["id"],
                    tuple(r["seqs"]),
                    r["min_passed"],
                    r.get("max_passed"),
                    tuple(r["replaces"]),
                    tuple(r["requires"]),
                    r.get("text", ""),
                )
                for r in data["rules"]
            ),
        )


_POLITICS_KEYS = ("id", "never_replaced", "notes")
_OLD_KEYS = ("level", "seq", "codes", "name")
_RULE_KEYS = ("level", "id", "seqs", "min_passed", "max_passed", "replaces", "requires", "text")


def parse_politics_rules(
    text: str, *, courses: Mapping[str, CatalogCourse], source_name: str = ""
) -> PoliticsRules:
    """Parse and validate the politics-course rules (docs/plan-format.md, "Politics rules").

    Old course codes are historical and need not be in the catalog; the new courses a rule
    replaces or requires must be. Refuses: PLAN_SYNTAX, PLAN_UNKNOWN_KEY, PLAN_MISSING_KEY,
    PLAN_BAD_VALUE, PLAN_UNKNOWN_COURSE, POLITICS_UNKNOWN_SEQ, POLITICS_PROTECTED (a rule
    replaces a never-replaced course such as 15040).
    """
    data = _load_toml(text, source_name)
    loc = _Locator(text)
    col = _Collector(loc)
    col.check_keys(data, ("format", "politics", "old_course", "rule"), ("", None))
    meta = col.get(data, "politics", dict, ("politics", None), default={})
    col.check_keys(meta, _POLITICS_KEYS, ("politics", None))
    rules_id = col.get(meta, "id", str, ("politics", None), default="")
    never = col.codes(meta, "never_replaced", ("politics", None))
    notes = col.get(meta, "notes", str, ("politics", None), required=False, default="")

    old_courses: list[PoliticsOldCourse] = []
    for index, raw in enumerate(col.get(data, "old_course", list, ("old_course", 0), default=[])):
        where = ("old_course", index)
        col.check_keys(raw, _OLD_KEYS, where)
        level = col.get(raw, "level", str, where, default="")
        if level and level not in LEVELS:
            col.add(loc.line(*where, "level"), "PLAN_BAD_VALUE", _("层次应为 zhuanke 或 benke。"))
        seq = col.get(raw, "seq", int, where, default=0)
        codes = col.codes(raw, "codes", where)
        name = col.get(raw, "name", str, where, default="")
        if any(o.level == level and o.seq == seq for o in old_courses):
            col.add(loc.line(*where, "seq"), "PLAN_BAD_VALUE", _("序号 %(seq)d 重复。") % {"seq": seq})
        old_courses.append(PoliticsOldCourse(level, seq, tuple(codes), name))

    rules: list[PoliticsRule] = []
    for index, raw in enumerate(col.get(data, "rule", list, ("rule", 0), default=[])):
        where = ("rule", index)
        col.check_keys(raw, _RULE_KEYS, where)
        level = col.get(raw, "level", str, where, default="")
        rule_id = col.get(raw, "id", str, where, default="")
        seqs = col.get(raw, "seqs", list, where, default=[])
        min_passed = col.get(raw, "min_passed", int, where, default=1)
        max_passed = col.get(raw, "max_passed", int, where, required=False)
        replaces = col.codes(raw, "replaces", where)
        requires = col.codes(raw, "requires", where, required=False)
        rule_text = col.get(raw, "text", str, where, required=False, default="")
        known = {o.seq for o in old_courses if o.level == level}
        for seq in seqs:
            if seq not in known:
                col.add(
                    loc.line(*where, "seqs"),
                    "POLITICS_UNKNOWN_SEQ",
                    _("规则 %(id)s 引用了不存在的旧课程序号 %(seq)s。") % {"id": rule_id, "seq": seq},
                )
        for code in (*replaces, *requires):
            if code not in courses:
                col.add(
                    loc.line(*where, "replaces"),
                    "PLAN_UNKNOWN_COURSE",
                    _("课程代码 %(code)s 不在课程目录中。") % {"code": code},
                )
        for code in replaces:
            if code in never:
                col.add(
                    loc.line(*where, "replaces"),
                    "POLITICS_PROTECTED",
                    _("规则 %(id)s 不能顶替课程 %(code)s(任何旧课程都不能顶替)。")
                    % {"id": rule_id, "code": code},
                )
        if min_passed < 1 or (max_passed is not None and max_passed < min_passed):
            col.add(loc.line(*where, "min_passed"), "PLAN_BAD_VALUE", _("min_passed/max_passed 不合理。"))
        rules.append(
            PoliticsRule(
                level,
                rule_id,
                tuple(seqs),
                min_passed,
                max_passed,
                tuple(replaces),
                tuple(requires),
                rule_text,
            )
        )
    col.fail_if_any(source_name)
    return PoliticsRules(rules_id, tuple(never), tuple(old_courses), tuple(rules), notes)
