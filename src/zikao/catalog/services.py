"""Writes of the catalog: the course list, exam plans, substitution tables, politics rules.

Every function here is a service (architecture.md): keyword-only, explicit `actor`, one
transaction, one AuditEvent when something changed, nothing written when it refuses. Files are
parsed by `catalog.planfile` (pure) against the Course table, then stored; re-importing an
identical file changes nothing and writes no event.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from zikao.catalog.models import (
    Course,
    Major,
    Plan,
    PlanItem,
    PlanSubstitution,
    PoliticsRuleSet,
    School,
)
from zikao.catalog.planfile import (
    CatalogCourse,
    PlanFileError,
    PlanSpec,
    detect_kind,
    normalize_credits,
    parse_plan,
    parse_politics_rules,
    parse_substitution_table,
    read_course_csv,
)
from zikao.core import clock
from zikao.core.audit import Actor, audit_record

DATA_DIR = Path(__file__).resolve().parent / "data"
COURSES_CSV = DATA_DIR / "courses.csv"
PLANS_DIR = DATA_DIR / "plans"


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def course_catalog() -> dict[str, CatalogCourse]:
    """The Course table as the mapping the plan-file parser validates against."""
    return {
        code: CatalogCourse(code, name, normalize_credits(credits), kind)
        for code, name, credits, kind in Course.objects.values_list("code", "name", "credits", "kind")
    }


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
