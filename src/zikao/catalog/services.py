"""Writes of the catalog: the course list, exam plans, substitution tables, politics rules.

Every function here is a service (architecture.md): keyword-only, explicit `actor`, one
transaction, one AuditEvent when something changed, nothing written when it refuses. Files are
parsed by `catalog.planfile` (pure) against the Course table, then stored; re-importing an
identical file changes nothing and writes no event.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.db.models import ForeignObjectRel, ProtectedError, Q, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zikao.accounts.permissions import Perm, PermissionDenied, require_perm, require_province_perm
from zikao.catalog.models import (
    CatalogUpload,
    Course,
    CourseKind,
    Level,
    Major,
    Plan,
    PlanItem,
    PlanSubstitution,
    PoliticsRuleSet,
    ProvincePolicy,
    School,
    Sitting,
    Slot,
    TimetableEntry,
)
from zikao.catalog.planfile import (
    PlanFileError,
    PlanSpec,
    detect_kind,
    normalize_credits,
    parse_plan,
    parse_politics_rules,
    parse_substitution_table,
    read_course_csv,
)
from zikao.catalog.rules import (
    SLOT_LABELS,
    Clash,
    Refusal,
    SittingDraft,
    default_review_closes_at,
    default_slots,
    new_sitting_problems,
    sitting_change_problems,
    sitting_problems,
    timetable_clashes,
)
from zikao.catalog.selectors import (
    PREVIEW_IDENTICAL,
    PREVIEW_UPDATE,
    course_catalog,
    plan_upload_preview,
    plans_for_clashes,
    sitting_slots,
    timetable_assignment,
    timetable_report,
    timetable_started,
)
from zikao.catalog.timetablefile import ROW_ADD
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, NotFound, ValidationFailed

DATA_DIR = Path(__file__).resolve().parent / "data"
COURSES_CSV = DATA_DIR / "courses.csv"
PLANS_DIR = DATA_DIR / "plans"


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CoursesLoadResult:
    created: int
    updated: int
    unchanged: int
    skipped: tuple[tuple[str, str], ...]


def courses_load(*, actor: Actor, path: Path | str | None = None) -> CoursesLoadResult:
    """Create or refresh Course rows from a courses.csv (default: the shipped data/courses.csv).

    Idempotent: a second run with the same file changes nothing and writes no AuditEvent.
    Courses are never deleted (scores and plans point at them). Malformed rows are skipped and
    reported; half credits (02277/02278: 3.5 / 0.5) are kept exactly. Event: 'courses.loaded'
    with the counts.
    """
    source = Path(path) if path is not None else COURSES_CSV
    wanted, skipped = read_course_csv(source.read_text(encoding="utf-8"))
    with transaction.atomic():
        existing = {c.code: c for c in Course.objects.select_for_update().filter(code__in=wanted)}
        to_create: list[Course] = []
        to_update: list[Course] = []
        for code, spec in wanted.items():
            course = existing.get(code)
            if course is None:
                to_create.append(Course(code=code, name=spec.name, credits=spec.credits, kind=spec.kind))
            elif (course.name, normalize_credits(course.credits), course.kind) != (
                spec.name,
                spec.credits,
                spec.kind,
            ):
                course.name, course.credits, course.kind = spec.name, spec.credits, spec.kind
                to_update.append(course)
        Course.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            Course.objects.bulk_update(to_update, ["name", "credits", "kind"], batch_size=500)
        result = CoursesLoadResult(
            created=len(to_create),
            updated=len(to_update),
            unchanged=len(wanted) - len(to_create) - len(to_update),
            skipped=tuple(skipped),
        )
        if to_create or to_update:
            audit_record(
                actor=actor,
                event_type="courses.loaded",
                subject_type="catalog.course",
                subject_id=source.name,
                after={
                    "created": result.created,
                    "updated": result.updated,
                    "updated_codes": [c.code for c in to_update][:200],
                    "skipped": [c for c, _ in skipped],
                },
            )
        if to_update:
            _entry_reference_changed()
    return result


def _school_for(spec: PlanSpec) -> School:
    """The plan's 主考学校, found by name or created (code from the file, else derived from the name)."""
    school = School.objects.filter(name=spec.school).first()
    if school is not None:
        return school
    code = spec.school_code or "S" + hashlib.sha256(spec.school.encode("utf-8")).hexdigest()[:7].upper()
    return School.objects.create(code=code, name=spec.school)


def _item_rows(spec: PlanSpec) -> list[dict]:
    return [
        {
            "course": item.code,
            "row": item.row,
            "credits": item.credits,
            "required": item.required,
            "group": item.groups[0] if item.groups else "",
            "practice_for": item.practice_for,
            "degree_course": item.degree,
        }
        for item in spec.items
    ]


def plan_import(*, actor: Actor, text: str, source_name: str) -> Plan:
    """Parse a plan file against the Course table and store it: Major (and School), Plan, PlanItems.

    All or nothing: on any problem raises PlanFileError (codes in catalog.planfile.parse_plan,
    every problem with its line) and writes nothing. The plan is keyed by (major code, level,
    version); re-importing identical text changes nothing (no event); a changed file updates
    the plan and its items in place. Event: 'plan.imported' with before/after checksum.
    """
    spec = parse_plan(text, courses=course_catalog(), source_name=source_name)
    checksum = _checksum(text)
    with transaction.atomic():
        major = Major.objects.select_for_update().filter(code=spec.major_code, level=spec.level).first()
        plan = (
            Plan.objects.select_for_update().filter(major=major, version=spec.version).first()
            if major is not None
            else None
        )
        if (
            plan is not None
            and plan.checksum == checksum
            and major is not None
            and major.name == spec.major_name
        ):
            return plan
        school = _school_for(spec)
        if major is None:
            major = Major.objects.create(
                code=spec.major_code,
                level=spec.level,
                name=spec.major_name,
                province_code=spec.province_code,
                school=school,
            )
        elif spec.version >= max(major.plans.values_list("version", flat=True), default=0):
            # The newest version names the major (graduation uses the new name).
            major.name, major.province_code, major.school = spec.major_name, spec.province_code, school
            major.save(update_fields=["name", "province_code", "school"])
        before = {"checksum": plan.checksum} if plan is not None else None
        fields = {
            "title": f"{spec.major_name} {spec.version}版",
            "min_total_credits": spec.min_total_credits,
            "effective_from": spec.effective_from,
            "graduate_until": spec.graduate_until,
            "old_candidates_registered_before": spec.old_candidates_registered_before,
            "spec": spec.to_json(),
            "source_text": text,
            "checksum": checksum,
            "imported_at": clock.now(),
        }
        if plan is None:
            plan = Plan.objects.create(major=major, version=spec.version, **fields)
        else:
            for name, value in fields.items():
                setattr(plan, name, value)
            plan.save()
        _sync_items(plan, spec)
        audit_record(
            actor=actor,
            event_type="plan.imported",
            subject=plan,
            before=before,
            after={"checksum": checksum, "source": source_name, "plan": spec.key, "items": len(spec.items)},
        )
        _entry_reference_changed()
    return plan


def _sync_items(plan: Plan, spec: PlanSpec) -> None:
    """Make the PlanItem rows mirror the spec: update in place, create new, delete removed."""
    courses = {c.code: c for c in Course.objects.filter(code__in=spec.codes)}
    existing = {item.course.code: item for item in plan.items.select_related("course")}
    wanted = _item_rows(spec)
    PlanItem.objects.filter(pk__in=[i.pk for code, i in existing.items() if code not in spec.codes]).delete()
    # Row numbers are not unique in the table, so in-place updates cannot collide.
    for row in wanted:
        item = existing.get(row["course"]) or PlanItem(plan=plan, course=courses[row["course"]])
        item.row = row["row"]
        item.credits = row["credits"]
        item.required = row["required"]
        item.group = row["group"]
        item.practice_for = courses[row["practice_for"]] if row["practice_for"] else None
        item.degree_course = row["degree_course"]
        item.save()


def _store_document(
    model: type[PlanSubstitution] | type[PoliticsRuleSet],
    *,
    lookup: dict,
    spec: dict,
    text: str,
    actor: Actor,
    event_type: str,
    after: dict,
    extra: dict | None = None,
):
    """Create or replace a stored rules document keyed by `lookup`; identical text is a no-op
    (no write, no event). Runs in the caller's transaction."""
    checksum = _checksum(text)
    row = model.objects.select_for_update().filter(**lookup).first()
    if row is not None and row.checksum == checksum:
        return row
    before = {"checksum": row.checksum} if row is not None else None
    fields = {
        **(extra or {}),
        "spec": spec,
        "source_text": text,
        "checksum": checksum,
        "imported_at": clock.now(),
    }
    if row is None:
        row = model.objects.create(**lookup, **fields)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
    audit_record(
        actor=actor, event_type=event_type, subject=row, before=before, after={"checksum": checksum, **after}
    )
    _entry_reference_changed()
    return row


def substitution_import(*, actor: Actor, text: str, source_name: str) -> PlanSubstitution:
    """Parse a substitution table against the Course table and store it (keyed by major, level,
    versions). Refuses with PlanFileError (see parse_substitution_table), writing nothing;
    identical text changes nothing. Event: 'plan.substitution_imported'."""
    table = parse_substitution_table(text, courses=course_catalog(), source_name=source_name)
    with transaction.atomic():
        return _store_document(
            PlanSubstitution,
            lookup={
                "major_code": table.major_code,
                "level": table.level,
                "from_version": table.from_version,
                "to_version": table.to_version,
            },
            extra={"table_id": table.id},
            spec=table.to_json(),
            text=text,
            actor=actor,
            event_type="plan.substitution_imported",
            after={"source": source_name, "rows": len(table.rows)},
        )


def politics_rules_import(*, actor: Actor, text: str, source_name: str) -> PoliticsRuleSet:
    """Parse and store the politics-course rules (keyed by their id). Refuses with PlanFileError
    (see parse_politics_rules), writing nothing; identical text changes nothing.
    Event: 'plan.politics_imported'."""
    rules = parse_politics_rules(text, courses=course_catalog(), source_name=source_name)
    with transaction.atomic():
        return _store_document(
            PoliticsRuleSet,
            lookup={"rules_id": rules.id},
            spec=rules.to_json(),
            text=text,
            actor=actor,
            event_type="plan.politics_imported",
            after={"source": source_name, "rules": len(rules.rules)},
        )


def plan_file_import(
    *, actor: Actor, text: str, source_name: str
) -> Plan | PlanSubstitution | PoliticsRuleSet:
    """Import any of the three documents, recognised by its top-level table ([plan], [table],
    [politics]). Refuses with PlanFileError (PLAN_SYNTAX, PLAN_UNKNOWN_KIND, or the parser's)."""
    try:
        kind = detect_kind(text)
    except PlanFileError as exc:
        raise PlanFileError(exc.problems, source_name) from None
    if kind == "plan":
        return plan_import(actor=actor, text=text, source_name=source_name)
    if kind == "substitution":
        return substitution_import(actor=actor, text=text, source_name=source_name)
    return politics_rules_import(actor=actor, text=text, source_name=source_name)


def shipped_plan_files() -> list[Path]:
    """The shipped files in data/plans in import order: plans (older versions first, so the
    newest version names the major), then substitution tables, then politics rules."""
    order = {"plan": 0, "substitution": 1, "politics": 2}

    def key(path: Path) -> tuple[int, int, str]:
        text = path.read_text(encoding="utf-8")
        kind = detect_kind(text)
        version = tomllib.loads(text)["plan"].get("version", 0) if kind == "plan" else 0
        return order[kind], version if isinstance(version, int) else 0, path.name

    return sorted(PLANS_DIR.glob("*.toml"), key=key)


def catalog_load_reference_data(*, actor: Actor) -> None:
    """Load the shipped reference data: courses.csv, then every file in data/plans in order.

    Idempotent (each step is). One transaction: if any shipped file is refused, nothing of
    this call is kept and the PlanFileError propagates (a broken shipped file is a bug).
    """
    with transaction.atomic():
        courses_load(actor=actor)
        for path in shipped_plan_files():
            plan_file_import(actor=actor, text=path.read_text(encoding="utf-8"), source_name=path.name)


# --- office writes: courses, schools, majors -----------------------------------------------------
#
# The office pages (office.views_catalog) call these. Staff actors need CATALOG_CHANGE, which
# only a province-level office can hold (accounts.permissions.PERM_MIN_LEVEL); the system actor
# (commands, the demo) may write too; nobody else. Every refusal is a ValidationFailed /
# DomainError with a stable code, and nothing is written.

COURSE_CODE_RE = re.compile(r"^\d{5}$")
MAJOR_CODE_RE = re.compile(r"^\d{6}[KT]?$")
SCHOOL_CODE_RE = re.compile(r"^[A-Za-z0-9]{1,10}$")
PROVINCE_CODE_RE = re.compile(r"^[A-Z0-9]{0,12}$")
MAX_COURSE_CREDITS = Decimal("99.5")

USAGE_LABELS = {
    "conduct.violation": _("违规记录"),
    "credits.exemption": _("免考"),
    "credits.transferout": _("转出"),
    "credits.transferincourse": _("转入课程"),
    "catalog.timetableentry": _("考试时间表"),
    "catalog.major": _("专业"),
    "catalog.plan": _("考试计划"),
    "scores.score": _("成绩"),
    "entries.entry": _("报考"),
    "candidates.candidatemajor": _("考生报考专业"),
}


def _require_change(actor: Actor) -> None:
    """Staff: CATALOG_CHANGE (province level); the system actor: allowed; anyone else: never."""
    if actor.kind == "staff":
        require_perm(actor.user, Perm.CATALOG_CHANGE)
    elif actor.kind != "system":
        raise PermissionDenied(Perm.CATALOG_CHANGE)


class CatalogRefused(ValidationFailed):
    """One or more `catalog.rules.Refusal`s: `code` is their shared code (or `fallback` when they
    differ); `fields["problems"]` lists each (code, field, message) for the form."""

    def __init__(self, refusals: list[Refusal], fallback: str):
        self.refusals = refusals
        codes = {r.code for r in refusals}
        code = codes.pop() if len(codes) == 1 else fallback
        super().__init__(
            code,
            "；".join(r.message for r in refusals),
            {"problems": [{"code": r.code, "field": r.field, "message": r.message} for r in refusals]},
        )


def usage_of(obj: models.Model) -> dict[str, int]:
    """How many rows of other tables point at `obj` (model label → count), for "in use" checks:
    a course used by a plan (counted in plans, as course or practice pairing), a score, an
    entry, a timetable, an exemption …; a school by a major; a major by a plan or a candidate.
    Hidden relations (related_name="+") count too; kept uploads do not."""
    usage: dict[str, int] = {}
    if isinstance(obj, Course):
        plans = PlanItem.objects.filter(Q(course=obj) | Q(practice_for=obj)).values("plan").distinct().count()
        if plans:
            usage["catalog.plan"] = plans
    for relation in obj._meta.get_fields(include_hidden=True):
        if not isinstance(relation, ForeignObjectRel):
            continue
        model = relation.related_model
        if not (isinstance(model, type) and issubclass(model, models.Model)):
            continue
        if model._meta.auto_created or model in (CatalogUpload, PlanItem):
            continue
        count = model._default_manager.filter(**{relation.field.name: obj}).count()
        if count:
            label = model._meta.label_lower
            usage[label] = usage.get(label, 0) + count
    return usage


def usage_text(usage: dict[str, int]) -> str:
    """The usage as text for people: "考试计划 3、成绩 12"."""
    parts = []
    for label, count in usage.items():
        name = USAGE_LABELS.get(label)
        if name is None:
            name = apps.get_model(label)._meta.verbose_name
        parts.append(f"{name} {count}")
    return "、".join(parts)


def _course_snapshot(course: Course) -> dict:
    return {
        "code": course.code,
        "name": course.name,
        "credits": str(normalize_credits(course.credits)),
        "kind": course.kind,
    }


def _course_refusals(*, code: str, name: str, credits, kind: str) -> list[Refusal]:
    refusals: list[Refusal] = []
    if not COURSE_CODE_RE.match(code or ""):
        refusals.append(Refusal("COURSE_BAD_CODE", "code", str(_("课程代码应为5位数字。"))))
    if not (name or "").strip() or len(name) > 100:
        refusals.append(Refusal("COURSE_BAD_NAME", "name", str(_("请填写课程名称(不超过100字)。"))))
    try:
        value = Decimal(str(credits))
        valid = value.is_finite() and Decimal(0) <= value <= MAX_COURSE_CREDITS and (value * 2) % 1 == 0
    except (InvalidOperation, ValueError):
        valid = False
    if not valid:
        refusals.append(
            Refusal("COURSE_BAD_CREDITS", "credits", str(_("学分应为0到99.5之间的整数或半学分(如3.5)。")))
        )
    if kind not in CourseKind.values:
        refusals.append(Refusal("COURSE_BAD_KIND", "kind", str(_("课程类型应为笔试、实践或毕业论文/设计。"))))
    elif kind == CourseKind.THESIS and valid and Decimal(str(credits)) != 0:
        refusals.append(
            Refusal("COURSE_THESIS_CREDITS", "credits", str(_("毕业论文/设计不计学分,学分须为0。")))
        )
    return refusals


@transaction.atomic
def course_save(
    *,
    actor: Actor,
    code: str,
    name: str,
    credits: Decimal | int | str,
    kind: str,
    course: Course | None = None,
) -> Course:
    """Create a course (`course` None) or change one (name, credits, kind; the code is the
    national key and never changes).

    Refuses: PERMISSION_DENIED; COURSE_BAD_CODE (not 5 digits), COURSE_BAD_NAME,
    COURSE_BAD_CREDITS (0–99.5 in half credits), COURSE_BAD_KIND, COURSE_THESIS_CREDITS (a
    thesis counts no credits) — several at once as COURSE_INVALID —; COURSE_CODE_TAKEN (create);
    COURSE_CODE_IMMUTABLE (edit with another code); COURSE_KIND_LOCKED (kind of a course
    already used by a plan, score, entry or timetable). Saving what is already stored changes
    nothing and writes no event. Events: 'course.created' / 'course.changed' (before/after).
    A changed name invalidates the candidates' score cache (names are shown with scores).
    """
    _require_change(actor)
    code, name = (code or "").strip(), (name or "").strip()
    refusals = _course_refusals(code=code, name=name, credits=credits, kind=kind)
    if refusals:
        raise CatalogRefused(refusals, "COURSE_INVALID")
    value = normalize_credits(Decimal(str(credits)))
    if course is None:
        if Course.objects.filter(code=code).exists():
            raise ValidationFailed(
                "COURSE_CODE_TAKEN", _("课程代码 %(code)s 已存在。") % {"code": code}, {"code": code}
            )
        created = Course.objects.create(code=code, name=name, credits=value, kind=kind)
        audit_record(
            actor=actor, event_type="course.created", subject=created, after=_course_snapshot(created)
        )
        return created
    locked = Course.objects.select_for_update().get(pk=course.pk)
    if code != locked.code:
        raise ValidationFailed(
            "COURSE_CODE_IMMUTABLE", _("课程代码不能更改。"), {"code": code, "current": locked.code}
        )
    if kind != locked.kind and usage_of(locked):
        raise ValidationFailed(
            "COURSE_KIND_LOCKED",
            _("课程已被使用(%(usage)s),不能更改类型。") % {"usage": usage_text(usage_of(locked))},
            {"kind": kind},
        )
    before = _course_snapshot(locked)
    renamed = locked.name != name
    locked.name, locked.credits, locked.kind = name, value, kind
    after = _course_snapshot(locked)
    if after == before:
        return locked
    locked.save(update_fields=["name", "credits", "kind"])
    audit_record(actor=actor, event_type="course.changed", subject=locked, before=before, after=after)
    if renamed:
        from zikao.scores.cache import releases_changed

        releases_changed()
    return locked


def _delete_unused(obj: models.Model, *, code: str, message, params: dict) -> None:
    """Delete `obj` unless something points at it (then DomainError `code`, nothing written)."""
    usage = usage_of(obj)
    if not usage:
        try:
            with transaction.atomic():
                obj.delete()
            return
        except (ProtectedError, RestrictedError) as exc:  # a reference added meanwhile
            usage = {type(o)._meta.label_lower: 1 for o in list(exc.args[1])[:1]}
    raise DomainError(code, message % {**params, "usage": usage_text(usage)}, {"usage": usage})


@transaction.atomic
def course_delete(*, actor: Actor, course: Course) -> None:
    """Delete a course nothing uses. Refuses PERMISSION_DENIED, COURSE_IN_USE (a plan, score,
    entry, timetable or any other record points at it; the message says which). Event:
    'course.deleted' with the course as it was."""
    _require_change(actor)
    locked = Course.objects.select_for_update().get(pk=course.pk)
    before = _course_snapshot(locked)
    pk = locked.pk
    _delete_unused(
        locked,
        code="COURSE_IN_USE",
        message=_("课程 %(code)s 已被使用(%(usage)s),不能删除。"),
        params=before,
    )
    audit_record(
        actor=actor, event_type="course.deleted", subject_type="catalog.course", subject_id=pk, before=before
    )


def _school_snapshot(school: School) -> dict:
    return {"code": school.code, "name": school.name}


@transaction.atomic
def school_save(*, actor: Actor, code: str, name: str, school: School | None = None) -> School:
    """Create or change a 主考学校 (code, name).

    Refuses: PERMISSION_DENIED; SCHOOL_BAD_CODE (1–10 letters or digits), SCHOOL_BAD_NAME (both
    at once: SCHOOL_INVALID); SCHOOL_CODE_TAKEN, SCHOOL_NAME_TAKEN (another school has it; plan
    files name their school, so names are unique). No change, no event. Events:
    'school.created' / 'school.changed'.
    """
    _require_change(actor)
    code, name = (code or "").strip(), (name or "").strip()
    refusals = []
    if not SCHOOL_CODE_RE.match(code):
        refusals.append(Refusal("SCHOOL_BAD_CODE", "code", str(_("学校代码应为1至10位字母或数字。"))))
    if not name or len(name) > 100:
        refusals.append(Refusal("SCHOOL_BAD_NAME", "name", str(_("请填写学校名称(不超过100字)。"))))
    if refusals:
        raise CatalogRefused(refusals, "SCHOOL_INVALID")
    others = School.objects.exclude(pk=school.pk) if school is not None else School.objects.all()
    if others.filter(code=code).exists():
        raise ValidationFailed(
            "SCHOOL_CODE_TAKEN", _("学校代码 %(code)s 已存在。") % {"code": code}, {"code": code}
        )
    if others.filter(name=name).exists():
        raise ValidationFailed(
            "SCHOOL_NAME_TAKEN", _("学校“%(name)s”已存在。") % {"name": name}, {"name": name}
        )
    if school is None:
        created = School.objects.create(code=code, name=name)
        audit_record(
            actor=actor, event_type="school.created", subject=created, after=_school_snapshot(created)
        )
        return created
    locked = School.objects.select_for_update().get(pk=school.pk)
    before = _school_snapshot(locked)
    locked.code, locked.name = code, name
    if _school_snapshot(locked) == before:
        return locked
    locked.save(update_fields=["code", "name"])
    audit_record(
        actor=actor,
        event_type="school.changed",
        subject=locked,
        before=before,
        after=_school_snapshot(locked),
    )
    return locked


@transaction.atomic
def school_delete(*, actor: Actor, school: School) -> None:
    """Delete a school no major belongs to. Refuses PERMISSION_DENIED, SCHOOL_IN_USE.
    Event: 'school.deleted'."""
    _require_change(actor)
    locked = School.objects.select_for_update().get(pk=school.pk)
    before, pk = _school_snapshot(locked), locked.pk
    _delete_unused(
        locked,
        code="SCHOOL_IN_USE",
        message=_("学校“%(name)s”已被使用(%(usage)s),不能删除。"),
        params=before,
    )
    audit_record(
        actor=actor, event_type="school.deleted", subject_type="catalog.school", subject_id=pk, before=before
    )


def _major_snapshot(major: Major) -> dict:
    return {
        "code": major.code,
        "name": major.name,
        "level": major.level,
        "province_code": major.province_code,
        "school": major.school.code,
        "restricted": major.restricted,
    }


@transaction.atomic
def major_save(
    *,
    actor: Actor,
    code: str,
    name: str,
    level: str,
    school: School,
    province_code: str = "",
    restricted: bool = False,
    major: Major | None = None,
) -> Major:
    """Create or change a 专业 (national code with optional K/T, name, level, school, the
    province's plan code, restricted or not).

    Refuses: PERMISSION_DENIED; MAJOR_BAD_CODE (`^\\d{6}[KT]?$`), MAJOR_BAD_NAME,
    MAJOR_BAD_LEVEL, MAJOR_BAD_PROVINCE_CODE (up to 12 capital letters or digits) — several at
    once: MAJOR_INVALID —; MAJOR_TAKEN (code and level exist); MAJOR_KEY_LOCKED (code or level
    of a major that has plans: plan files find their major by them). Note: importing a newer
    plan version sets the name, school and province code from the file again. No change, no
    event. Events: 'major.created' / 'major.changed'.
    """
    _require_change(actor)
    code, name, province_code = (code or "").strip(), (name or "").strip(), (province_code or "").strip()
    refusals = []
    if not MAJOR_CODE_RE.match(code):
        refusals.append(
            Refusal("MAJOR_BAD_CODE", "code", str(_("专业代码应为6位数字,可加K或T后缀(如030101K)。")))
        )
    if not name or len(name) > 100:
        refusals.append(Refusal("MAJOR_BAD_NAME", "name", str(_("请填写专业名称(不超过100字)。"))))
    if level not in Level.values:
        refusals.append(Refusal("MAJOR_BAD_LEVEL", "level", str(_("层次应为专科或本科。"))))
    if not PROVINCE_CODE_RE.match(province_code):
        refusals.append(
            Refusal("MAJOR_BAD_PROVINCE_CODE", "province_code", str(_("省专业代码最多12位大写字母或数字。")))
        )
    if refusals:
        raise CatalogRefused(refusals, "MAJOR_INVALID")
    others = Major.objects.exclude(pk=major.pk) if major is not None else Major.objects.all()
    if others.filter(code=code, level=level).exists():
        raise ValidationFailed(
            "MAJOR_TAKEN",
            _("专业 %(code)s(%(level)s)已存在。") % {"code": code, "level": Level(level).label},
            {"code": code, "level": level},
        )
    if major is None:
        created = Major.objects.create(
            code=code,
            name=name,
            level=level,
            school=school,
            province_code=province_code,
            restricted=restricted,
        )
        audit_record(actor=actor, event_type="major.created", subject=created, after=_major_snapshot(created))
        return created
    locked = Major.objects.select_for_update().select_related("school").get(pk=major.pk)
    if (code, level) != (locked.code, locked.level) and locked.plans.exists():
        raise ValidationFailed(
            "MAJOR_KEY_LOCKED",
            _("该专业已有考试计划,专业代码和层次不能更改。"),
            {"code": code, "level": level},
        )
    before = _major_snapshot(locked)
    locked.code, locked.name, locked.level = code, name, level
    locked.school, locked.province_code, locked.restricted = school, province_code, restricted
    after = _major_snapshot(locked)
    if after == before:
        return locked
    locked.save(update_fields=["code", "name", "level", "school", "province_code", "restricted"])
    audit_record(actor=actor, event_type="major.changed", subject=locked, before=before, after=after)
    return locked


@transaction.atomic
def major_delete(*, actor: Actor, major: Major) -> None:
    """Delete a major with no plan and no candidate. Refuses PERMISSION_DENIED, MAJOR_IN_USE.
    Event: 'major.deleted'."""
    _require_change(actor)
    locked = Major.objects.select_for_update().select_related("school").get(pk=major.pk)
    before, pk = _major_snapshot(locked), locked.pk
    _delete_unused(
        locked,
        code="MAJOR_IN_USE",
        message=_("专业 %(code)s %(name)s 已被使用(%(usage)s),不能删除。"),
        params=before,
    )
    audit_record(
        actor=actor, event_type="major.deleted", subject_type="catalog.major", subject_id=pk, before=before
    )


# --- office writes: plan uploads --------------------------------------------------------------------

PLAN_FILE_MAX_BYTES = 1024 * 1024


def _upload_create(
    *, actor: Actor, kind: str, content: bytes, source_name: str, sitting: Sitting | None = None
) -> CatalogUpload:
    checksum = hashlib.sha256(content).hexdigest()
    existing = (
        CatalogUpload.objects.filter(kind=kind, sitting=sitting, checksum=checksum)
        .order_by("-uploaded_at", "-pk")
        .first()
    )
    if existing is not None:
        return existing
    upload = CatalogUpload.objects.create(
        kind=kind,
        sitting=sitting,
        source_name=(source_name or "upload")[:200],
        content=content,
        size=len(content),
        checksum=checksum,
        uploaded_by=actor.user if actor.kind == "staff" else None,
        uploaded_at=clock.now(),
    )
    audit_record(
        actor=actor,
        event_type="catalog.upload_received",
        subject=upload,
        after={
            "kind": kind,
            "sitting": sitting.label if sitting is not None else None,
            "source": upload.source_name,
            "size": upload.size,
            "checksum": checksum,
        },
    )
    return upload


@transaction.atomic
def plan_upload_create(*, actor: Actor, content: bytes, source_name: str) -> CatalogUpload:
    """Keep an uploaded plan file (plan, substitution table or politics rules) for its preview.

    The bytes are stored as uploaded, keyed by their sha256: uploading the same bytes again
    returns the upload already kept (no new row, no event). Parsing happens in the preview
    (`selectors.plan_upload_preview`), so a file with errors is kept and its problems shown.
    Refuses: PERMISSION_DENIED, PLAN_FILE_EMPTY, PLAN_FILE_TOO_LARGE (over 1 MB),
    PLAN_FILE_ENCODING (not UTF-8). Event: 'catalog.upload_received'.
    """
    _require_change(actor)
    if not content or not content.strip():
        raise ValidationFailed("PLAN_FILE_EMPTY", _("文件是空的。"))
    if len(content) > PLAN_FILE_MAX_BYTES:
        raise ValidationFailed("PLAN_FILE_TOO_LARGE", _("计划文件不能超过 1 MB。"), {"size": len(content)})
    try:
        content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("PLAN_FILE_ENCODING", _("计划文件须为 UTF-8 编码的 TOML 文本。")) from None
    return _upload_create(actor=actor, kind=CatalogUpload.Kind.PLAN, content=content, source_name=source_name)


@dataclass(frozen=True)
class PlanApplyResult:
    """What applying an upload did: "created", "updated" or "unchanged", and to what."""

    status: str
    title: str
    subject: Plan | PlanSubstitution | PoliticsRuleSet | None = None


def plan_upload_apply(*, actor: Actor, upload: CatalogUpload, base: str) -> PlanApplyResult:
    """Apply a previewed plan upload: the stored bytes go through `plan_file_import` (the same
    validation, checksum idempotency and audit event 'plan.imported' / …).

    `base` is the preview's fingerprint of what it compared with; if the stored plans of that
    major (or the stored table / rules) changed since, refuses PLAN_UPLOAD_STALE: preview again.
    Also refuses PERMISSION_DENIED and the parser's codes (PlanFileError). A file identical to
    what is stored changes nothing, writes no event and says so ("unchanged").
    """
    _require_change(actor)
    try:
        with transaction.atomic():
            return _plan_upload_apply(actor=actor, upload=upload, base=base)
    except IntegrityError:  # the same major or plan created concurrently
        raise DomainError("PLAN_UPLOAD_STALE", _("计划数据在预览后已被更改,请重新预览后再导入。")) from None


def _plan_upload_apply(*, actor: Actor, upload: CatalogUpload, base: str) -> PlanApplyResult:
    locked = CatalogUpload.objects.select_for_update().get(pk=upload.pk, kind=CatalogUpload.Kind.PLAN)
    preview = plan_upload_preview(locked)
    if preview.problems:
        raise PlanFileError(preview.problems, locked.source_name)
    if preview.spec is not None:
        # Serialise with other imports of this major, then compare with the preview's base.
        list(Major.objects.select_for_update().filter(code=preview.spec.major_code, level=preview.spec.level))
        preview = plan_upload_preview(locked)
    if preview.base != base:
        raise DomainError("PLAN_UPLOAD_STALE", _("计划数据在预览后已被更改,请重新预览后再导入。"))
    if preview.status == PREVIEW_IDENTICAL:
        return PlanApplyResult("unchanged", preview.title, preview.compared)
    subject = plan_file_import(actor=actor, text=preview.text, source_name=locked.source_name)
    status = "updated" if preview.status == PREVIEW_UPDATE else "created"
    locked.applied_at = clock.now()
    locked.applied_by = actor.user if actor.kind == "staff" else None
    locked.outcome = {
        "status": status,
        "kind": preview.kind,
        "title": preview.title,
        "subject": subject._meta.label_lower,
        "subject_id": subject.pk,
    }
    locked.save(update_fields=["applied_at", "applied_by", "outcome"])
    return PlanApplyResult(status, preview.title, subject)


# --- office writes: sittings --------------------------------------------------------------------


def _sitting_draft(sitting: Sitting) -> SittingDraft:
    return SittingDraft(
        label=sitting.label,
        first_day=sitting.first_day,
        slots=tuple((s.code, s.starts_at, s.ends_at) for s in sitting_slots(sitting)),
        entry_opens_at=sitting.entry_opens_at,
        entry_closes_at=sitting.entry_closes_at,
        release_at=sitting.release_at,
        review_closes_at=sitting.review_closes_at,
    )


def _sitting_snapshot(draft: SittingDraft) -> dict:
    def iso(value: datetime | None) -> str | None:
        # Local time, so the same instant always gives the same text (DB values come back in UTC).
        return timezone.localtime(value).isoformat() if value is not None else None

    return {
        "label": draft.label,
        "first_day": draft.first_day.isoformat(),
        "slots": {code: [iso(start), iso(end)] for code, start, end in sorted(draft.slots)},
        "entry_opens_at": iso(draft.entry_opens_at),
        "entry_closes_at": iso(draft.entry_closes_at),
        "release_at": iso(draft.release_at),
        "review_closes_at": iso(draft.review_closes_at),
    }


def sitting_save(
    *,
    actor: Actor,
    label: str,
    first_day: date,
    slots: Mapping[str, tuple[datetime, datetime]] | None = None,
    entry_opens_at: datetime | None = None,
    entry_closes_at: datetime | None = None,
    release_at: datetime | None = None,
    review_closes_at: datetime | None = None,
    review_from_policy: bool = False,
    sitting: Sitting | None = None,
) -> Sitting:
    """Create a sitting (`sitting` None) or change one: first day, the four slots, the entry
    window, the release time and the review deadline.

    `slots` (code → (start, end)) defaults to Sat AM 09:00–11:30 … Sun PM 14:30–17:00 from the
    first day. With `review_from_policy` and no `review_closes_at`, the review deadline is
    17:00 on the province policy's `review_working_days`-th working day after release.
    Refuses (CatalogRefused, SITTING_INVALID when the codes differ; nothing written):
    PERMISSION_DENIED, SITTING_BAD_TIME (a naive time), the rules of
    `catalog.rules.sitting_problems` (window order, release after the last slot, review after
    release, label vs first day, slots), SITTING_LABEL_TAKEN, SITTING_RELEASE_IN_PAST, and for
    a change `sitting_change_problems` (SITTING_LABEL_IMMUTABLE, SITTING_SLOTS_LOCKED,
    SITTING_RELEASE_LOCKED once scores are released). No change, no event. Events:
    'sitting.created' / 'sitting.changed' (before/after); a changed release time invalidates
    the candidates' score cache after commit.
    """
    _require_change(actor)
    tz = timezone.get_default_timezone()
    slot_rows = (
        tuple((code, times[0], times[1]) for code, times in slots.items())
        if slots is not None
        else default_slots(first_day, tz)
    )
    instants = [entry_opens_at, entry_closes_at, release_at, review_closes_at]
    instants += [t for _code, start, end in slot_rows for t in (start, end)]
    if any(t is not None and (not isinstance(t, datetime) or timezone.is_naive(t)) for t in instants):
        raise ValidationFailed("SITTING_BAD_TIME", _("时间须带时区。"))
    if review_from_policy and review_closes_at is None and release_at is not None:
        review_closes_at = default_review_closes_at(
            release_at, ProvincePolicy.current().review_working_days, tz
        )
    draft = SittingDraft(
        label=(label or "").strip(),
        first_day=first_day,
        slots=slot_rows,
        entry_opens_at=entry_opens_at,
        entry_closes_at=entry_closes_at,
        release_at=release_at,
        review_closes_at=review_closes_at,
    )
    try:
        with transaction.atomic():
            return _sitting_save(actor=actor, draft=draft, sitting=sitting)
    except IntegrityError:
        raise CatalogRefused(
            [
                Refusal(
                    "SITTING_LABEL_TAKEN", "label", str(_("考次 %(label)s 已存在。") % {"label": draft.label})
                )
            ],
            "SITTING_INVALID",
        ) from None


def _sitting_save(*, actor: Actor, draft: SittingDraft, sitting: Sitting | None) -> Sitting:
    tz = timezone.get_default_timezone()
    now = clock.now()
    refusals = sitting_problems(draft, tz=tz)
    locked: Sitting | None = None
    before: SittingDraft | None = None
    if sitting is None:
        if Sitting.objects.filter(label=draft.label).exists():
            refusals.append(
                Refusal(
                    "SITTING_LABEL_TAKEN", "label", str(_("考次 %(label)s 已存在。") % {"label": draft.label})
                )
            )
        refusals += new_sitting_problems(draft, now=now)
    else:
        locked = Sitting.objects.select_for_update().get(pk=sitting.pk)
        before = _sitting_draft(locked)
        refusals += sitting_change_problems(
            before, draft, effective_release_at=locked.effective_release_at, now=now
        )
    if refusals:
        raise CatalogRefused(refusals, "SITTING_INVALID")
    fields = {
        "first_day": draft.first_day,
        "entry_opens_at": draft.entry_opens_at,
        "entry_closes_at": draft.entry_closes_at,
        "release_at": draft.release_at,
        "review_closes_at": draft.review_closes_at,
    }
    if locked is None or before is None:
        created = Sitting.objects.create(label=draft.label, **fields)
        Slot.objects.bulk_create(
            [
                Slot(sitting=created, code=code, starts_at=start, ends_at=end)
                for code, start, end in draft.slots
            ]
        )
        audit_record(
            actor=actor, event_type="sitting.created", subject=created, after=_sitting_snapshot(draft)
        )
        if draft.release_at is not None:
            _releases_changed()
        return created
    if _sitting_snapshot(before) == _sitting_snapshot(draft):
        return locked
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.save(update_fields=list(fields))
    existing = {slot.code: slot for slot in locked.slots.all()}
    for code, start, end in draft.slots:
        slot = existing.get(code)
        if slot is None:
            Slot.objects.create(sitting=locked, code=code, starts_at=start, ends_at=end)
        elif (slot.starts_at, slot.ends_at) != (start, end):
            slot.starts_at, slot.ends_at = start, end
            slot.save(update_fields=["starts_at", "ends_at"])
    audit_record(
        actor=actor,
        event_type="sitting.changed",
        subject=locked,
        before=_sitting_snapshot(before),
        after=_sitting_snapshot(draft),
    )
    if before.release_at != draft.release_at:
        _releases_changed()  # also drops the entry services' cached slots (entries.cache)
    else:
        _entry_reference_changed(locked.pk)
    return locked


def _releases_changed() -> None:
    from zikao.scores.cache import releases_changed

    releases_changed()


def _entry_reference_changed(sitting_id: int | None = None) -> None:
    """The entry services keep courses, plans, rules documents and the policy (catalog) and each
    sitting's slots and timetable per process (entries.cache): drop them, now and after commit."""
    from zikao.entries import cache as entry_cache

    if sitting_id is None:
        entry_cache.bust_catalog()
    else:
        entry_cache.bust_sitting(sitting_id)


# --- office writes: timetable ---------------------------------------------------------------------

TIMETABLE_FILE_MAX_BYTES = 5 * 1024 * 1024


@transaction.atomic
def timetable_upload_create(
    *, actor: Actor, sitting: Sitting, content: bytes, source_name: str
) -> CatalogUpload:
    """Keep an uploaded timetable spreadsheet (XLSX or CSV) of a sitting for its dry run.

    Same bytes for the same sitting: the upload already kept (no new row, no event). The file
    is read in the dry run (`selectors.timetable_report`), which reports a malformed one.
    Refuses: PERMISSION_DENIED, TIMETABLE_EMPTY, TIMETABLE_TOO_LARGE (over 5 MB).
    Event: 'catalog.upload_received'.
    """
    _require_change(actor)
    if not content or not content.strip():
        raise ValidationFailed("TIMETABLE_EMPTY", _("文件是空的。"))
    if len(content) > TIMETABLE_FILE_MAX_BYTES:
        raise ValidationFailed("TIMETABLE_TOO_LARGE", _("文件超过 5 MB。"), {"size": len(content)})
    return _upload_create(
        actor=actor,
        kind=CatalogUpload.Kind.TIMETABLE,
        content=content,
        source_name=source_name,
        sitting=sitting,
    )


def _require_timetable_open(sitting: Sitting) -> None:
    if timetable_started(sitting):
        raise DomainError(
            "TIMETABLE_LOCKED", _("考次 %(label)s 已开考,考试时间表不能再更改。") % {"label": sitting.label}
        )


def _clash_error(clashes: list[Clash]) -> DomainError:
    lines = [
        str(_("%(slot)s: %(a)s 与 %(b)s(%(plans)s)"))
        % {
            "slot": SLOT_LABELS.get(c.slot, c.slot),
            "a": c.courses[0],
            "b": c.courses[1],
            "plans": "、".join(c.plans),
        }
        for c in clashes
    ]
    return DomainError(
        "TIMETABLE_CLASH",
        str(_("同一专业计划的课程安排在同一时段: ")) + ";".join(lines),
        {
            "clashes": [
                {"slot": c.slot, "courses": list(c.courses), "plans": list(c.plans), "kind": c.kind}
                for c in clashes
            ]
        },
    )


@dataclass(frozen=True)
class TimetableApplyResult:
    added: tuple[tuple[str, str], ...]  # (course code, slot code)
    unchanged: int


@transaction.atomic
def timetable_upload_apply(*, actor: Actor, upload: CatalogUpload, base: str) -> TimetableApplyResult:
    """Apply a dry-run-checked timetable upload: every new row in one transaction, or none.

    The stored bytes are read and judged again under a lock on the sitting. Refuses:
    PERMISSION_DENIED; TIMETABLE_LOCKED (the exam has started); TIMETABLE_STALE (the
    timetable changed since the dry run `base`: check again); TIMETABLE_HAS_ERRORS (a file
    problem or any row in error); TIMETABLE_CLASH (the new rows put two courses of one plan in
    one slot); TIMETABLE_NOTHING_TO_ADD (every row is already so). Event: 'timetable.imported'.
    """
    _require_change(actor)
    locked_upload = CatalogUpload.objects.select_for_update().get(
        pk=upload.pk, kind=CatalogUpload.Kind.TIMETABLE
    )
    assert locked_upload.sitting_id is not None
    sitting = Sitting.objects.select_for_update().get(pk=locked_upload.sitting_id)
    _require_timetable_open(sitting)
    report = timetable_report(locked_upload)
    if report.base != base:
        raise DomainError("TIMETABLE_STALE", _("考试时间表在检查后已被更改,请重新检查后再导入。"))
    if report.file_problems or report.errors:
        raise DomainError(
            "TIMETABLE_HAS_ERRORS",
            _("文件有 %(n)d 处错误,未导入任何数据。") % {"n": report.errors + len(report.file_problems)},
        )
    if report.clashes:
        raise _clash_error(report.clashes)
    new = [(row.course, row.slot) for row in report.rows if row.status == ROW_ADD]
    if not new:
        raise DomainError("TIMETABLE_NOTHING_TO_ADD", _("文件中的安排与现有时间表完全一致,无需导入。"))
    courses = {c.code: c for c in Course.objects.filter(code__in=[code for code, _slot in new])}
    slots = {s.code: s for s in sitting.slots.all()}
    TimetableEntry.objects.bulk_create(
        [TimetableEntry(sitting=sitting, slot=slots[slot], course=courses[code]) for code, slot in new]
    )
    locked_upload.applied_at = clock.now()
    locked_upload.applied_by = actor.user if actor.kind == "staff" else None
    locked_upload.outcome = {"added": len(new), "unchanged": report.unchanged}
    locked_upload.save(update_fields=["applied_at", "applied_by", "outcome"])
    audit_record(
        actor=actor,
        event_type="timetable.imported",
        subject=sitting,
        after={
            "source": locked_upload.source_name,
            "checksum": locked_upload.checksum,
            "added": [list(pair) for pair in new],
            "unchanged": report.unchanged,
        },
    )
    _entry_reference_changed(sitting.pk)
    return TimetableApplyResult(tuple(new), report.unchanged)


def _has_entries(sitting: Sitting, course: Course) -> bool:
    from zikao.entries.models import Entry

    return (
        Entry.objects.filter(sitting=sitting, course=course).exclude(status=Entry.Status.CANCELLED).exists()
    )


@transaction.atomic
def timetable_entry_save(
    *,
    actor: Actor,
    sitting: Sitting,
    course_code: str,
    slot_code: str,
    entry: TimetableEntry | None = None,
) -> TimetableEntry:
    """Put a course in a slot of the sitting (`entry` None) or move a timetable row to another
    slot.

    Refuses: PERMISSION_DENIED; TIMETABLE_LOCKED (the exam has started);
    TIMETABLE_UNKNOWN_COURSE; TIMETABLE_UNKNOWN_SLOT; TIMETABLE_COURSE_IN_OTHER_SLOT (adding a
    course the sitting already has); TIMETABLE_COURSE_HAS_ENTRIES (moving a course candidates
    have entered: their entries hold the slot); TIMETABLE_CLASH (two courses of one plan in
    the slot). Same slot again: no change, no event. Events: 'timetable.entry_added' /
    'timetable.entry_moved'.
    """
    _require_change(actor)
    sitting = Sitting.objects.select_for_update().get(pk=sitting.pk)
    _require_timetable_open(sitting)
    course = Course.objects.filter(code=(course_code or "").strip()).first()
    if course is None:
        raise ValidationFailed(
            "TIMETABLE_UNKNOWN_COURSE",
            _("课程代码 %(code)s 不在课程目录中。") % {"code": course_code},
            {"course": course_code},
        )
    slot = sitting.slots.filter(code=slot_code).first()
    if slot is None:
        raise ValidationFailed(
            "TIMETABLE_UNKNOWN_SLOT", _("时段“%(slot)s”不存在。") % {"slot": slot_code}, {"slot": slot_code}
        )
    current = TimetableEntry.objects.select_for_update().filter(sitting=sitting, course=course).first()
    if entry is None and current is not None:
        raise ValidationFailed(
            "TIMETABLE_COURSE_IN_OTHER_SLOT",
            _("课程 %(code)s 已安排在 %(slot)s。")
            % {"code": course.code, "slot": SLOT_LABELS.get(current.slot.code, current.slot.code)},
            {"course": course.code},
        )
    if entry is not None:
        if current is None or current.pk != entry.pk:
            raise NotFound()
        if current.slot_id == slot.pk:
            return current
        if _has_entries(sitting, course):
            raise DomainError(
                "TIMETABLE_COURSE_HAS_ENTRIES",
                _("已有考生报考课程 %(code)s,不能调整其时段。") % {"code": course.code},
                {"course": course.code},
            )
    assignment = {**timetable_assignment(sitting), course.code: slot.code}
    clashes = timetable_clashes(assignment, plans_for_clashes(sitting), involving=[course.code])
    if clashes:
        raise _clash_error(clashes)
    if current is None:
        created = TimetableEntry.objects.create(sitting=sitting, slot=slot, course=course)
        audit_record(
            actor=actor,
            event_type="timetable.entry_added",
            subject=sitting,
            after={"course": course.code, "slot": slot.code},
        )
        _entry_reference_changed(sitting.pk)
        return created
    before = {"course": course.code, "slot": current.slot.code}
    current.slot = slot
    current.save(update_fields=["slot"])
    audit_record(
        actor=actor,
        event_type="timetable.entry_moved",
        subject=sitting,
        before=before,
        after={"course": course.code, "slot": slot.code},
    )
    _entry_reference_changed(sitting.pk)
    return current


@transaction.atomic
def timetable_entry_delete(*, actor: Actor, entry: TimetableEntry) -> None:
    """Take a course off the sitting's timetable. Refuses PERMISSION_DENIED, TIMETABLE_LOCKED,
    TIMETABLE_COURSE_HAS_ENTRIES. Event: 'timetable.entry_removed'."""
    _require_change(actor)
    sitting = Sitting.objects.select_for_update().get(pk=entry.sitting_id)
    _require_timetable_open(sitting)
    current = TimetableEntry.objects.select_related("course", "slot").filter(pk=entry.pk).first()
    if current is None:
        raise NotFound()
    if _has_entries(sitting, current.course):
        raise DomainError(
            "TIMETABLE_COURSE_HAS_ENTRIES",
            _("已有考生报考课程 %(code)s,不能从时间表中删除。") % {"code": current.course.code},
            {"course": current.course.code},
        )
    before = {"course": current.course.code, "slot": current.slot.code}
    current.delete()
    audit_record(actor=actor, event_type="timetable.entry_removed", subject=sitting, before=before)
    _entry_reference_changed(sitting.pk)


# --- office writes: province entry policy ---------------------------------------------------------

POLICY_MAX_COURSES_LIMIT = 12  # no sitting has more half-day slots than this
POLICY_FEE_LIMIT_FEN = 100_000  # 1,000.00 元: anything above is a typing slip


def province_policy_problems(*, max_courses_per_sitting, fee_per_course_fen) -> list[Refusal]:
    """Pure checks of the entry part of the province policy (whole numbers within limits)."""
    problems = []
    if (
        not isinstance(max_courses_per_sitting, int)
        or isinstance(max_courses_per_sitting, bool)
        or not 1 <= max_courses_per_sitting <= POLICY_MAX_COURSES_LIMIT
    ):
        problems.append(
            Refusal(
                "POLICY_MAX_COURSES_INVALID",
                "max_courses_per_sitting",
                str(_("每次报考科目上限须为1至%(limit)s之间的整数。") % {"limit": POLICY_MAX_COURSES_LIMIT}),
            )
        )
    if (
        not isinstance(fee_per_course_fen, int)
        or isinstance(fee_per_course_fen, bool)
        or not 0 <= fee_per_course_fen <= POLICY_FEE_LIMIT_FEN
    ):
        problems.append(
            Refusal(
                "POLICY_FEE_INVALID",
                "fee_per_course_fen",
                str(_("每科报考费须在0至%(limit)s元之间。") % {"limit": f"{POLICY_FEE_LIMIT_FEN // 100}.00"}),
            )
        )
    return problems


def _entry_policy_changed() -> None:
    """The entry services keep the policy per process (`entries.cache`): bump its token now
    (this transaction reads the new values) and again after commit (`bust_policy` does both)."""
    from zikao.entries import cache as entry_cache

    entry_cache.bust_policy()


@transaction.atomic
def province_policy_set(
    *, actor: Actor, max_courses_per_sitting: int, fee_per_course_fen: int
) -> ProvincePolicy:
    """Change the entry part of the province policy: the most courses a candidate may enter in
    one sitting and the fee per course (fen). Creates the policy row if there is none.

    Only new entries use the new fee: an entry keeps the fee it was created with and an order
    the sum of its entries. Refuses (nothing written) PERMISSION_DENIED (not ENTRIES_MANAGE at a
    province office), POLICY_MAX_COURSES_INVALID (1–12), POLICY_FEE_INVALID (0–100000 fen;
    CatalogRefused, code POLICY_INVALID when both). No change, no event. Event:
    'province_policy.changed' (before/after); the entry cache's policy is busted."""
    require_province_perm(actor, Perm.ENTRIES_MANAGE)
    problems = province_policy_problems(
        max_courses_per_sitting=max_courses_per_sitting, fee_per_course_fen=fee_per_course_fen
    )
    if problems:
        raise CatalogRefused(problems, "POLICY_INVALID")
    policy = ProvincePolicy.objects.select_for_update().order_by("pk").first()
    created = policy is None
    if policy is None:
        policy = ProvincePolicy()
    before = {
        "max_courses_per_sitting": policy.max_courses_per_sitting,
        "fee_per_course_fen": policy.fee_per_course_fen,
    }
    after = {"max_courses_per_sitting": max_courses_per_sitting, "fee_per_course_fen": fee_per_course_fen}
    if before == after and not created:
        return policy
    policy.max_courses_per_sitting = max_courses_per_sitting
    policy.fee_per_course_fen = fee_per_course_fen
    policy.save()
    audit_record(
        actor=actor,
        event_type="province_policy.changed",
        subject=policy,
        before=before,
        after=after,
    )
    _entry_policy_changed()
    return policy
