"""Build the demo province (the engine behind `manage.py demo`).

One transaction: reference catalog (catalog_load_reference_data), province policy, offices
(江苏省教育考试院, 13 cities, 95 counties/districts with real GB/T 2260 codes), demo staff users,
sittings 201904–202610 with slots, windows and timetables, then N synthetic candidates with
their histories, streamed in chunks (COPY on PostgreSQL, bulk_create elsewhere), the
candidate-number sequences, and one `demo.built` audit event. The same seed gives the same
province; only the release time of 202610 (now + release_in) and the random certificate
verification codes differ between builds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time

from django.apps import apps
from django.db import connection, models, transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from zikao.accounts.models import Office, StaffRole, User
from zikao.accounts.permissions import Role
from zikao.candidates.models import Candidate, CandidateMajor, CandidateNumberSequence, PriorEducation
from zikao.catalog.models import Plan, ProvincePolicy, Sitting, Slot, TimetableEntry
from zikao.catalog.services import catalog_load_reference_data
from zikao.conduct.models import Violation
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.codes import random_code
from zikao.core.models import AuditEvent
from zikao.core.numbers import candidate_no_prefix, make_certificate_no
from zikao.credits.models import Exemption, TransferIn, TransferInCourse, TransferOut
from zikao.demo import people
from zikao.demo.bulk import IdBlock, TableWriter, deferred_indexes, reset_sequences
from zikao.demo.entry_setup import entry_setup
from zikao.demo.history import (
    ABSENT,
    VOID,
    Context,
    History,
    SittingView,
    graduation_round,
    random_profile,
    simulate,
)
from zikao.demo.plans import (
    KIND_CODES,
    THEORY,
    ItemView,
    PlanView,
    Variant,
    course_availability,
    offered_in,
    plan_variants,
    slot_assignment,
)
from zikao.demo.schedule import SHANGHAI, SittingPlan, at, sitting_plans
from zikao.demo.showcase import SHOWCASES, Showcase
from zikao.entries.models import Entry
from zikao.graduation.models import Graduation
from zikao.scores.models import Score

DEFAULT_SEED = 20260428
PROVINCE_OFFICE = ("320000", "江苏省教育考试院")
# Demo-only staff accounts (documented in the README; never use these passwords elsewhere).
DEMO_STAFF = (
    ("province", "Demo-Province-2026", "province", None, True),
    ("nanjing", "Demo-City-2026", "city", "320100", False),
    ("xuanwu", "Demo-County-2026", "county", "320102", False),
)
# Their roles (office level caps what each role can do; see accounts.permissions).
DEMO_STAFF_ROLES = {
    "province": (
        Role.STAFF_ADMIN,
        Role.CATALOG_MANAGER,
        Role.SCORE_MANAGER,
        Role.RECORD_CLERK,
        Role.CONDUCT_OFFICER,
        Role.REGISTRATION_CLERK,
        Role.AUDITOR,
        Role.EXAM_AFFAIRS,
    ),
    "nanjing": (Role.STAFF_ADMIN, Role.RECORD_CLERK, Role.CONDUCT_OFFICER, Role.AUDITOR, Role.READ_ONLY),
    "xuanwu": (Role.RECORD_CLERK, Role.REGISTRATION_CLERK, Role.CONDUCT_OFFICER),
}


def demo_totp_key(username: str) -> str:
    """The fixed, public TOTP key (hex, 20 bytes) of a demo staff user: printed with the logins so
    anyone trying the demo can add it to an authenticator app. Demo only, like the passwords."""
    return hashlib.sha1(f"zikao-demo-totp:{username}".encode()).hexdigest()  # noqa: S324


def demo_totp_secret(username: str) -> str:
    """The base32 form of `demo_totp_key` (what authenticator apps ask for)."""
    return base64.b32encode(bytes.fromhex(demo_totp_key(username))).decode("ascii")


def _demo_staff_line(user: User | None, username: str, office: str) -> str:
    """The office column of a printed demo login, with the TOTP secret and otpauth URI."""
    device = (
        TOTPDevice.objects.filter(user=user, confirmed=True, key=demo_totp_key(username)).first()
        if user is not None
        else None
    )
    if device is None:
        return (
            f"{office}\n      TOTP: no demo device (re-enrolled?); run `manage.py demo --reset` to restore it"
        )
    return f"{office}\n      TOTP secret {demo_totp_secret(username)}  {device.config_url}"


MAJOR_WEIGHTS = {"120203K": 25, "050101": 18, "080901": 20, "570102K": 22, "590202": 15}
OLD_PLAN_SHARE = 0.55  # of 080901 candidates registered before 2024-07 still on the 2021 plan
VIOLATION_TEXT = {
    "rule_breach": "开考后将手机带至座位，违反考场规则",
    "cheating": "考试中偷看他人答卷",
    "serious_cheating": "携带具有发送、接收功能的电子设备作弊",
    "organised_cheating": "由他人冒名代替参加考试",
}
TRANSFER_REASONS = ("工作调动", "户籍迁移", "随配偶迁居", "异地就业")
CANDIDATE_TABLES = (Candidate, CandidateMajor, Entry, Score)
LARGE_LOAD = 20_000


@dataclass
class BuildOptions:
    candidates: int = 2000
    seed: int = DEFAULT_SEED
    release_in_minutes: int = 10
    reset: bool = False
    defer_indexes: str = "auto"  # auto | always | never (PostgreSQL only)
    chunk_size: int = 5000


@dataclass
class ShowcaseRow:
    role: str
    candidate_no: str
    name: str
    id_number: str
    birth_date: date
    county: str
    major: str


@dataclass
class BuildResult:
    existed: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    showcases: list[ShowcaseRow] = field(default_factory=list)
    staff: list[tuple[str, str, str]] = field(default_factory=list)
    latest_release_at: datetime | None = None
    seconds: float = 0.0


# --- wiping -----------------------------------------------------------------------------------


def _referencing_models(targets: set[type[models.Model]]) -> list[type[models.Model]]:
    """`targets` plus every model that (transitively) points at one of them, children first."""
    closure = set(targets)
    all_models = apps.get_models(include_auto_created=True)
    changed = True
    while changed:
        changed = False
        for model in all_models:
            if model in closure or model is AuditEvent:
                continue
            for f in model._meta.concrete_fields:
                if f.is_relation and f.related_model in closure:
                    closure.add(model)
                    changed = True
                    break
    ordered: list[type[models.Model]] = []
    pending = set(closure)
    while pending:
        progressed = False
        for model in sorted(pending, key=lambda m: m._meta.label):
            blockers = [
                other
                for other in pending
                if other is not model
                and any(f.is_relation and f.related_model is model for f in other._meta.concrete_fields)
            ]
            if not blockers:
                ordered.append(model)
                pending.discard(model)
                progressed = True
        if not progressed:  # a reference cycle between tables: delete in any order, checks are deferred
            ordered.extend(sorted(pending, key=lambda m: m._meta.label))
            break
    return ordered


def wipe_candidates_and_sittings(log: Callable[[str], None]) -> None:
    """Delete every candidate record and every sitting, with all rows that depend on them.

    Keeps the catalog, offices, staff users and the audit trail (append-only). Refuses when
    audit events name a candidate: those rows cannot be deleted, so drop the database instead.
    """
    if AuditEvent.objects.filter(candidate__isnull=False).exists():
        raise RuntimeError(
            "audit events refer to candidates and the audit trail is append-only: recreate the "
            "database (delete the SQLite file or drop the PostgreSQL database) instead of --reset"
        )
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in _referencing_models({Candidate, CandidateNumberSequence, Sitting}):
            # Table names come from the models' _meta, never from input.
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)}")  # noqa: S608
            if cursor.rowcount:
                log(f"  deleted {cursor.rowcount:,} rows from {model._meta.db_table}")


# --- reference rows ---------------------------------------------------------------------------


def ensure_policy() -> ProvincePolicy:
    policy = ProvincePolicy.objects.order_by("pk").first()
    if policy is None:
        policy = ProvincePolicy.objects.create()
    return policy


def ensure_offices() -> tuple[Office, dict[str, Office]]:
    """Province, city and county offices, upserted by region code; returns (province, by code)."""
    existing = {o.region_code: o for o in Office.objects.all()}

    def upsert(code: str, name: str, level: str, parent: Office | None, exam_code: str) -> Office:
        office = existing.get(code)
        if office is None:
            office = Office(region_code=code)
        changed = (office.name, office.level, office.parent_id, office.exam_code) != (
            name,
            level,
            parent.pk if parent else None,
            exam_code,
        )
        office.name, office.level, office.parent, office.exam_code = name, level, parent, exam_code
        if office.pk is None or changed:
            office.save()
        existing[code] = office
        return office

    province = upsert(PROVINCE_OFFICE[0], PROVINCE_OFFICE[1], Office.Level.PROVINCE, None, "00")
    for code, name, exam in people.cities():
        upsert(code, f"{name}教育考试院", Office.Level.CITY, province, exam)
    for county in people.counties():
        city = existing[county.city_code]
        upsert(
            county.code,
            f"{county.city_name}{county.name}招生考试办公室",
            Office.Level.COUNTY,
            city,
            county.exam_code,
        )
    return province, existing


def existing_showcases() -> list[ShowcaseRow]:
    """The showcase candidates of the province already built (from its `demo.built` event), so a
    re-run (`make run` on an existing demo) prints the same demo logins again."""
    from zikao.core.models import AuditEvent

    event = AuditEvent.objects.filter(event_type="demo.built").order_by("-at", "-pk").first()
    if event is None or not event.after:
        return []
    roles = dict(event.after.get("showcases", []))
    rows = []
    candidates = Candidate.objects.filter(candidate_no__in=roles).select_related("county_office")
    majors = {
        cm.candidate_id: cm
        for cm in CandidateMajor.objects.filter(candidate__in=candidates).select_related("major", "plan")
    }
    for c in sorted(candidates, key=lambda c: list(roles).index(c.candidate_no)):
        cm = majors.get(c.pk)
        office = c.county_office
        rows.append(
            ShowcaseRow(
                roles[c.candidate_no],
                c.candidate_no,
                c.name,
                c.id_number,
                c.birth_date,
                office.name,
                f"{cm.major.code} {cm.major.name} ({cm.plan.version}版)" if cm else "",
            )
        )
    return rows


def ensure_staff(offices: dict[str, Office], province: Office) -> list[tuple[str, str, str]]:
    """The demo staff users: password, roles, and a confirmed TOTP device with the fixed demo key,
    so the printed logins work at /office/login/ (and /admin/ for the superuser) at once."""
    out = []
    now = clock.now()
    for username, password, level, region, superuser in DEMO_STAFF:
        office = province if region is None else offices[region]
        user = User.objects.filter(username=username).first() or User(username=username)
        user.office = office
        user.is_staff = True
        user.is_superuser = superuser
        user.is_active = True
        user.failed_login_count = 0
        user.locked_until = None
        user.set_password(password)
        user.save()
        roles = DEMO_STAFF_ROLES[username]
        StaffRole.objects.filter(user=user).exclude(role__in=roles).delete()
        for role in roles:
            StaffRole.objects.get_or_create(user=user, role=role, defaults={"granted_at": now})
        TOTPDevice.objects.filter(user=user).delete()
        TOTPDevice.objects.create(user=user, name="demo", key=demo_totp_key(username), confirmed=True)
        out.append((username, password, _demo_staff_line(user, username, f"{office.name} ({level})")))
    return out


def load_plans() -> list[PlanView]:
    views = []
    for plan in Plan.objects.select_related("major").order_by("major__code", "version"):
        items = [
            ItemView(
                course_id=it.course_id,
                code=it.course.code,
                name=it.course.name,
                kind=KIND_CODES[it.course.kind],
                credits=it.credits,
                required=it.required,
                group=it.group,
                practice_for_id=it.practice_for_id,
                row=it.row,
            )
            for it in plan.items.select_related("course").order_by("row")
        ]
        if not items:
            continue
        view = PlanView(
            plan_id=plan.pk,
            major_id=plan.major_id,
            major_code=plan.major.code,
            major_name=plan.major.name,
            level=plan.major.level,
            version=plan.version,
            items=items,
            effective_from=plan.effective_from,
            graduate_until=plan.graduate_until,
            old_candidates_registered_before=plan.old_candidates_registered_before,
        )
        view.variants = plan_variants(view)
        views.append(view)
    if not views:
        raise RuntimeError("no exam plans in the database: catalog_load_reference_data loaded none")
    return views


@dataclass
class SittingRows:
    plans: list[SittingPlan]
    ids: list[int]
    views: list[SittingView]
    entry_times: list[list[datetime]]
    score_times: list[datetime]


def create_sittings(plans: list[PlanView], policy: ProvincePolicy) -> SittingRows:
    """Sittings 201904–202610 with slots and timetables (theory courses only: practice and
    thesis are assessed by the 主考学校, not in the province's slots)."""
    schedule = sitting_plans()
    now = clock.now()
    sittings = []
    for sp in schedule:
        release_at = sp.release_at if sp.release_at < now else now - timedelta(hours=1)
        sittings.append(
            Sitting(
                label=sp.label,
                first_day=sp.first_day,
                entry_opens_at=sp.entry_opens_at,
                entry_closes_at=sp.entry_closes_at,
                release_at=release_at,
                review_closes_at=sp.review_closes_at(release_at, policy.review_working_days),
            )
        )
    Sitting.objects.bulk_create(sittings)
    by_label = {s.label: s for s in Sitting.objects.filter(label__in=[sp.label for sp in schedule])}
    slots = [
        Slot(sitting=by_label[sp.label], code=code, starts_at=start, ends_at=end)
        for sp in schedule
        for code, start, end in sp.slots
    ]
    Slot.objects.bulk_create(slots)
    slot_ids = {(s.sitting_id, s.code): s.pk for s in Slot.objects.filter(sitting__in=by_label.values())}
    slot_codes = [code for code, _s, _e in schedule[0].slots]
    avail = course_availability(plans)
    codes = {it.course_id: it.code for p in plans for it in p.items}
    slot_of = slot_assignment(plans, len(slot_codes))
    timetable = []
    views = []
    for index, sp in enumerate(schedule):
        sitting = by_label[sp.label]
        offered = offered_in(avail, codes, label=sp.label, first_day=sp.first_day, main=sp.main)
        for cid in sorted(offered, key=lambda c: codes[c]):
            timetable.append(
                TimetableEntry(
                    sitting=sitting, slot_id=slot_ids[(sitting.pk, slot_codes[slot_of[cid]])], course_id=cid
                )
            )
        views.append(SittingView(index, sp.label, sp.main, sp.first_day, sp.release_at.date(), offered))
    TimetableEntry.objects.bulk_create(timetable, batch_size=1000)
    entry_times = [
        [sp.entry_opens_at + timedelta(days=d, hours=h) for d in range(7) for h in (0, 3, 6)]
        for sp in schedule
    ]
    score_times = [
        at(sp.first_day + timedelta(days=28), sp.release_at.astimezone(SHANGHAI).time().replace(hour=10))
        for sp in schedule
    ]
    return SittingRows(schedule, [by_label[sp.label].pk for sp in schedule], views, entry_times, score_times)


# --- candidates -------------------------------------------------------------------------------


class Writers:
    def __init__(self) -> None:
        exemption_courses = Exemption.courses.through
        transfer_courses = TransferOut.courses.through
        self.candidate = TableWriter(
            Candidate,
            [
                "id",
                "candidate_no",
                "pre_registration_no",
                "id_type",
                "id_number",
                "name",
                "former_name",
                "gender",
                "birth_date",
                "ethnicity",
                "phone",
                "address",
                "household_region",
                "county_office_id",
                "work_unit",
                "prior_education",
                "prior_diploma_no",
                "prior_diploma_verified",
                "character_assessment_on_file",
                "status",
                "merged_into_id",
                "registered_on",
                "created_at",
            ],
        )
        self.major = TableWriter(
            CandidateMajor, ["id", "candidate_id", "major_id", "plan_id", "registered_on", "active"]
        )
        self.transfer_in = TableWriter(
            TransferIn, ["id", "candidate_id", "from_province", "from_candidate_no", "arrived_on"]
        )
        self.transfer_in_course = TableWriter(
            TransferInCourse,
            [
                "id",
                "transfer_id",
                "remote_code",
                "remote_name",
                "remote_credits",
                "remote_sitting",
                "value",
                "grade",
                "mapped_course_id",
            ],
        )
        self.entry = TableWriter(
            Entry, ["id", "candidate_id", "sitting_id", "course_id", "area_id", "status", "created_at"]
        )
        self.score = TableWriter(
            Score,
            [
                "id",
                "candidate_id",
                "course_id",
                "sitting_id",
                "entry_id",
                "value",
                "grade",
                "method",
                "status",
                "is_current",
                "supersedes_id",
                "correction_reason",
                "source",
                "created_at",
                "created_by_id",
            ],
        )
        self.violation = TableWriter(
            Violation,
            [
                "id",
                "candidate_id",
                "sitting_id",
                "course_id",
                "kind",
                "penalty",
                "suspension",
                "suspension_years",
                "suspension_starts",
                "suspension_ends",
                "description",
                "decided_at",
                "revoked_at",
                "revocation_reason",
            ],
        )
        self.exemption = TableWriter(
            Exemption, ["id", "candidate_id", "basis", "basis_detail", "status", "requested_at", "decided_at"]
        )
        self.exemption_course = TableWriter(exemption_courses, ["id", "exemption_id", "course_id"])
        self.transfer_out = TableWriter(
            TransferOut,
            ["id", "candidate_id", "to_province", "reason", "status", "requested_at", "completed_at"],
        )
        self.transfer_out_course = TableWriter(transfer_courses, ["id", "transferout_id", "course_id"])
        self.graduation = TableWriter(
            Graduation,
            [
                "id",
                "candidate_id",
                "major_id",
                "plan_id",
                "certificate_no",
                "graduated_on",
                "verification_code",
                "revoked_at",
                "revocation_reason",
            ],
        )
        # Parents before children: foreign keys may be checked immediately.
        self.order = [
            self.candidate,
            self.major,
            self.transfer_in,
            self.transfer_in_course,
            self.entry,
            self.score,
            self.violation,
            self.exemption,
            self.exemption_course,
            self.transfer_out,
            self.transfer_out_course,
            self.graduation,
        ]
        self.ids = {w.model: IdBlock(w.model) for w in self.order}

    def next_id(self, writer: TableWriter) -> int:
        return self.ids[writer.model].take()

    def flush(self) -> None:
        for writer in self.order:
            writer.flush()


def time_of_day(hour: int) -> dt_time:
    return dt_time(hour, 0)


@dataclass
class Draft:
    county: people.County
    gender: str
    birth: date
    name: str
    registered_on: date
    plan: PlanView
    variant: Variant
    prior: str
    verified: bool
    diploma_no: str
    history: History
    character: bool


class CandidateFactory:
    """Turns (index, seed) into a candidate and all of its rows."""

    def __init__(
        self,
        *,
        seed: int,
        plans: list[PlanView],
        sittings: SittingRows,
        ctx: Context,
        offices: dict[str, Office],
        writers: Writers,
        existing_ids: list[str],
        sequences: dict[str, int],
    ) -> None:
        self.seed = seed
        self.ctx = ctx
        self.sittings = sittings
        self.writers = writers
        self.issuer = people.ResidentIdIssuer(existing_ids)
        self.sequences = sequences
        self.issued: dict[str, int] = {}
        self.certificates: dict[str, int] = {}
        self.codes: set[str] = set()
        self.office_of = {c.code: offices[c.code] for c in people.counties()}
        self.county_by_code = {c.code: c for c in people.counties()}
        self.by_major: dict[str, list[PlanView]] = {}
        for p in plans:
            self.by_major.setdefault(p.major_code, []).append(p)
        self.major_picker = people.WeightedPicker(
            sorted(self.by_major), [MAJOR_WEIGHTS.get(code, 10) for code in sorted(self.by_major)]
        )
        labels = [s.label for s in sittings.views]
        self.label_index = {label: n for n, label in enumerate(labels)}
        self.registration_picker = people.WeightedPicker(
            range(len(labels)),
            [(1.0 if s.main else 0.35) * (1 + 0.06 * (s.first_day.year - 2019)) for s in sittings.views],
        )
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "candidates",
                "entries",
                "scores",
                "absent",
                "void",
                "withheld",
                "exemptions",
                "violations",
                "suspensions",
                "transfers_in",
                "transfers_out",
                "graduations",
            ),
            0,
        )
        self.showcase_rows: list[ShowcaseRow] = []

    # plan choice --------------------------------------------------------------------------
    def _plan_for(
        self, rng: random.Random, major_code: str, registered_on: date, old: bool | None
    ) -> PlanView:
        versions = sorted(self.by_major[major_code], key=lambda p: p.version)
        newest = versions[-1]
        older = [
            p
            for p in versions[:-1]
            if p.old_candidates_registered_before and registered_on < p.old_candidates_registered_before
        ]
        if not older:
            return newest
        if old is None:
            old = rng.random() < OLD_PLAN_SHARE
        return older[-1] if old else newest

    # one candidate ---------------------------------------------------------------------------
    def make(self, index: int) -> None:
        if index < len(SHOWCASES):
            self._make_showcase(SHOWCASES[index])
            return
        # Demo data must be reproducible from the seed: a seeded PRNG on purpose (never for secrets).
        rng = random.Random(self.seed * 1_000_003 + index)  # noqa: S311
        county = people.county_picker().pick(rng)
        reg_index = self.registration_picker.pick(rng)
        major_code = self.major_picker.pick(rng)
        gender = "F" if rng.random() < 0.57 else "M"
        draft = self._draft(rng, county, reg_index, major_code, gender, random_profile(rng))
        self._emit(rng, draft)

    def _make_showcase(self, show: Showcase) -> None:
        county = self.county_by_code[show.county_code]
        reg_index = self.label_index[show.register]
        for attempt in range(200):
            rng = random.Random(f"{self.seed}:showcase:{show.key}:{attempt}")  # noqa: S311
            draft = self._draft(rng, county, reg_index, show.major_code, show.gender, show.profile, show=show)
            if show.accept(draft.history):
                break
        else:  # pragma: no cover - the showcase parameters make this unreachable
            raise RuntimeError(f"showcase {show.key} could not be generated")
        candidate_no, id_number = self._emit(rng, draft)
        plan = draft.plan
        self.showcase_rows.append(
            ShowcaseRow(
                show.role,
                candidate_no,
                draft.name,
                id_number,
                draft.birth,
                f"{county.city_name}{county.name}",
                f"{plan.major_code} {plan.major_name} ({plan.version}版)",
            )
        )

    def _draft(
        self,
        rng: random.Random,
        county: people.County,
        reg_index: int,
        major_code: str,
        gender: str,
        profile,
        *,
        show: Showcase | None = None,
    ) -> Draft:
        """Everything about a candidate that depends only on its own random stream."""
        sp = self.sittings.plans[reg_index]
        registered_on = sp.entry_opens_at.date() + timedelta(days=rng.randint(0, 6))
        plan = self._plan_for(rng, major_code, registered_on, show.old_plan if show else None)
        assert plan.variants is not None, "load_plans() gives every plan its variants"
        variant = plan.variants.pick(rng)
        level = plan.level
        reg_year = registered_on.year
        if show is not None:
            birth, name = show.birth, show.name
        else:
            youngest = 20 if level == "benke" else 17
            age = youngest + int(abs(rng.gauss(0, 7.5)))
            birth_year = min(2006, reg_year - youngest, max(1975, reg_year - age))
            birth = people.birth_date_between(rng, birth_year, birth_year)
            name = people.make_name(rng, gender)
        if level == "benke":
            prior = (
                PriorEducation.ZHUANKE
                if rng.random() < 0.88
                else (PriorEducation.BENKE if rng.random() < 0.85 else PriorEducation.POSTGRADUATE)
            )
            verified = show is not None or rng.random() < 0.92
        else:
            roll = rng.random()
            prior = (
                PriorEducation.HIGH_SCHOOL
                if roll < 0.8
                else (PriorEducation.NONE if roll < 0.92 else PriorEducation.ZHUANKE)
            )
            verified = prior == PriorEducation.ZHUANKE and rng.random() < 0.9
        diploma_no = ""
        if prior != PriorEducation.HIGH_SCHOOL and prior != PriorEducation.NONE:
            level_code = {"zhuanke": "06", "benke": "05", "postgraduate": "04"}[prior]
            diploma_year = min(reg_year - 1, birth.year + 22)
            diploma_no = (
                f"{rng.randint(10200, 14600)}{rng.choice('1234')}{diploma_year}{level_code}"
                f"{rng.randrange(10**6):06d}"
            )
        history = simulate(self.ctx, rng, variant, reg_index, profile, show.forces if show else None)
        history.graduation = graduation_round(
            self.ctx,
            rng,
            history,
            level=level,
            diploma_verified=verified,
            graduate_until=plan.graduate_until,
            eager=show is not None,
        )
        return Draft(
            county=county,
            gender=gender,
            birth=birth,
            name=name,
            registered_on=registered_on,
            plan=plan,
            variant=variant,
            prior=prior,
            verified=verified,
            diploma_no=diploma_no,
            history=history,
            character=history.graduation is not None or show is not None or rng.random() < 0.3,
        )

    def _emit(self, rng: random.Random, d: Draft) -> tuple[str, str]:
        """Give the draft its numbers (unique across the run) and write all of its rows."""
        w = self.writers
        county = d.county
        id_number = self.issuer.issue(rng, county.code, d.birth, d.gender)
        prefix = candidate_no_prefix(
            county.city_exam_code, county.exam_code, d.registered_on.year, d.registered_on.month
        )
        seq = self.issued.get(prefix, self.sequences.get(prefix, 0)) + 1
        self.issued[prefix] = seq
        candidate_no = f"{prefix}{seq:05d}"
        history = d.history
        cid = w.next_id(w.candidate)
        office = self.office_of[county.code]
        status = Candidate.Status.ACTIVE
        if history.graduation is not None:
            status = Candidate.Status.GRADUATED
        elif history.transfer_out is not None:
            status = Candidate.Status.TRANSFERRED_OUT
        created_at = at(d.registered_on, time_of_day(10)) + timedelta(minutes=rng.randrange(480))
        w.candidate.add(
            (
                cid,
                candidate_no,
                None,
                "resident_id",
                id_number,
                d.name,
                "",
                d.gender,
                d.birth,
                people.ETHNICITIES.pick(rng),
                people.make_phone(rng),
                people.make_address(rng, county),
                county.code,
                office.pk,
                people.make_work_unit(rng, county),
                d.prior,
                d.diploma_no,
                d.verified,
                d.character,
                status,
                None,
                d.registered_on,
                created_at,
            )
        )
        w.major.add((w.next_id(w.major), cid, d.plan.major_id, d.plan.plan_id, d.registered_on, True))
        self._emit_history(cid, office.pk, d.registered_on, created_at, d.variant, history)
        self.counts["candidates"] += 1
        if history.graduation is not None:
            self._emit_graduation(cid, d.plan, county.code, history.graduation)
        return candidate_no, id_number

    def _emit_history(
        self, cid: int, area_id: int, registered_on: date, created_at: datetime, variant, h: History
    ) -> None:
        w = self.writers
        c = self.counts
        sittings = self.sittings
        course_ids = variant.course_ids
        sitting_ids = sittings.ids
        if h.transfer_in is not None:
            t = h.transfer_in
            tid = w.next_id(w.transfer_in)
            w.transfer_in.add((tid, cid, t.from_province, t.from_candidate_no, registered_on))
            arrived = at(registered_on, time_of_day(11))
            for item, value, remote_sitting in t.courses:
                w.transfer_in_course.add(
                    (
                        w.next_id(w.transfer_in_course),
                        tid,
                        variant.codes[item],
                        variant.names[item],
                        variant.credits[item],
                        remote_sitting,
                        value,
                        "",
                        course_ids[item],
                    )
                )
                w.score.add(
                    (
                        w.next_id(w.score),
                        cid,
                        course_ids[item],
                        None,
                        None,
                        value,
                        "",
                        "transfer",
                        "valid",
                        True,
                        None,
                        "",
                        f"转入: {t.from_province} {remote_sitting}",
                        arrived,
                        None,
                    )
                )
            c["transfers_in"] += 1
        entry_times = sittings.entry_times
        score_times = sittings.score_times
        for a in h.attempts:
            s = a.sitting
            eid = w.next_id(w.entry)
            times = entry_times[s]
            w.entry.add(
                (
                    eid,
                    cid,
                    sitting_ids[s],
                    course_ids[a.item],
                    area_id,
                    "confirmed",
                    max(times[(cid + a.item) % len(times)], created_at),
                )
            )
            w.score.add(
                (
                    w.next_id(w.score),
                    cid,
                    course_ids[a.item],
                    sitting_ids[s],
                    eid,
                    a.value,
                    a.grade,
                    "exam",
                    a.status,
                    True,
                    None,
                    "",
                    "",
                    score_times[s],
                    None,
                )
            )
            if a.status == ABSENT:
                c["absent"] += 1
            elif a.status == VOID:
                c["void"] += 1
            elif a.status == "withheld":
                c["withheld"] += 1
        c["entries"] += len(h.attempts)
        c["scores"] += len(h.attempts)
        for v in h.violations:
            sp = sittings.plans[v.sitting]
            w.violation.add(
                (
                    w.next_id(w.violation),
                    cid,
                    sitting_ids[v.sitting],
                    course_ids[v.item] if v.item is not None else None,
                    v.kind,
                    v.penalty,
                    v.suspension,
                    v.years,
                    v.starts,
                    v.ends,
                    VIOLATION_TEXT[v.kind],
                    at(sp.first_day + timedelta(days=20), time_of_day(10)),
                    None,
                    "",
                )
            )
            c["violations"] += 1
            c["suspensions"] += bool(v.suspension)
        for e in h.exemptions:
            sp = sittings.plans[e.sitting]
            previous = sittings.plans[e.sitting - 1]  # the first local pass was released by then
            requested = at(previous.release_at.date() + timedelta(days=10), time_of_day(9))
            decided = requested + timedelta(days=10)
            xid = w.next_id(w.exemption)
            w.exemption.add(
                (xid, cid, e.basis, f"{e.detail} (证书编号 {e.certificate})", "approved", requested, decided)
            )
            for item in e.items:
                w.exemption_course.add((w.next_id(w.exemption_course), xid, course_ids[item]))
                theory = variant.kinds[item] == THEORY
                w.score.add(
                    (
                        w.next_id(w.score),
                        cid,
                        course_ids[item],
                        None,
                        None,
                        60 if theory else None,
                        "" if theory else "合格",
                        "exemption",
                        "valid",
                        True,
                        None,
                        "",
                        f"免考: {e.detail}",
                        decided,
                        None,
                    )
                )
                c["scores"] += 1
            c["exemptions"] += 1
        c["scores"] += sum(len(t.courses) for t in ([h.transfer_in] if h.transfer_in else []))
        if h.transfer_out is not None:
            tout = h.transfer_out
            sp = sittings.plans[tout.sitting]
            requested = sp.release_at + timedelta(days=20)
            oid = w.next_id(w.transfer_out)
            w.transfer_out.add(
                (
                    oid,
                    cid,
                    tout.to_province,
                    TRANSFER_REASONS[cid % len(TRANSFER_REASONS)],
                    "completed",
                    requested,
                    requested + timedelta(days=30),
                )
            )
            for item in tout.items:
                w.transfer_out_course.add((w.next_id(w.transfer_out_course), oid, course_ids[item]))
            c["transfers_out"] += 1

    def _emit_graduation(self, cid: int, plan: PlanView, region: str, round_: tuple[int, int]) -> None:
        w = self.writers
        year, half = round_
        key = f"{plan.level}{region}{year}{half}"
        seq = self.certificates.get(key, 0) + 1
        self.certificates[key] = seq
        number = make_certificate_no(
            level=plan.level,
            province=region[:2],
            city=region[2:4],
            county=region[4:6],
            year=year,
            half=half,
            sequence=seq,
        )
        code = random_code(12)
        while code in self.codes:
            code = random_code(12)
        self.codes.add(code)
        graduated_on = date(year, 6, 30) if half == 1 else date(year, 12, 31)
        w.graduation.add(
            (w.next_id(w.graduation), cid, plan.major_id, plan.plan_id, number, graduated_on, code, None, "")
        )
        self.counts["graduations"] += 1


def build_province(options: BuildOptions, log: Callable[[str], None]) -> BuildResult:
    """Build the demo province in one transaction (see the module docstring)."""
    started = time.monotonic()
    actor = Actor.system("demo")
    result = BuildResult()
    with transaction.atomic():
        if options.reset:
            log("Wiping candidates and sittings …")
            wipe_candidates_and_sittings(log)
        elif Candidate.objects.exists():
            result.existed = True
            result.counts = {"candidates": Candidate.objects.count()}
            users = {
                u.username: u
                for u in User.objects.select_related("office").filter(username__in=[s[0] for s in DEMO_STAFF])
            }
            result.staff = []
            for u, p, level, _r, _su in DEMO_STAFF:
                user = users.get(u)
                office_name = user.office.name if user is not None and user.office is not None else ""
                result.staff.append((u, p, _demo_staff_line(user, u, f"{office_name} ({level})")))
            result.showcases = existing_showcases()
            return result
        else:
            wipe_candidates_and_sittings(log)  # stray sittings or sequences without candidates
        log("Loading the reference catalog (courses, majors, schools, plans) …")
        catalog_load_reference_data(actor=actor)
        policy = ensure_policy()
        province, offices = ensure_offices()
        result.staff = ensure_staff(offices, province)
        plans = load_plans()
        sittings = create_sittings(plans, policy)
        log(
            f"  {len(offices)} offices, {len(plans)} plans, {len(sittings.ids)} sittings "
            f"({sittings.plans[0].label}–{sittings.plans[-1].label}), {time.monotonic() - started:.1f}s"
        )
        ctx = Context(
            sittings=sittings.views,
            slot_of=slot_assignment(plans),
            as_of=sittings.views[-1].release_day,
            max_per_sitting=policy.max_courses_per_sitting,
            local_passes_zhuanke=policy.local_courses_before_graduation_zhuanke,
            local_passes_benke=policy.local_courses_before_graduation_benke,
        )
        writers = Writers()
        factory = CandidateFactory(
            seed=options.seed,
            plans=plans,
            sittings=sittings,
            ctx=ctx,
            offices=offices,
            writers=writers,
            existing_ids=list(Candidate.objects.values_list("id_number", flat=True)),
            sequences=dict(CandidateNumberSequence.objects.values_list("prefix", "last")),
        )
        defer = options.defer_indexes == "always" or (
            options.defer_indexes == "auto" and options.candidates >= LARGE_LOAD
        )
        if defer and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            context: contextlib.AbstractContextManager[None] = deferred_indexes(CANDIDATE_TABLES, log=log)
        else:
            context = contextlib.nullcontext()
        log(f"Generating {options.candidates:,} candidates (seed {options.seed}) …")
        generation_started = time.monotonic()
        chunks = -(-options.candidates // options.chunk_size)
        report_every = max(1, chunks // 20)  # about twenty progress lines
        with context:
            for start in range(0, options.candidates, options.chunk_size):
                stop = min(options.candidates, start + options.chunk_size)
                for index in range(start, stop):
                    factory.make(index)
                writers.flush()
                elapsed = time.monotonic() - generation_started
                if stop < options.candidates and (start // options.chunk_size + 1) % report_every:
                    continue
                log(
                    f"  {stop:,}/{options.candidates:,} candidates, {factory.counts['scores']:,} scores, "
                    f"{elapsed:.0f}s ({stop / max(elapsed, 1e-9):,.0f}/s)"
                )
            if defer and connection.vendor == "postgresql":
                log("Recreating indexes and foreign keys …")
                index_started = time.monotonic()
        if defer and connection.vendor == "postgresql":
            log(f"  {time.monotonic() - index_started:.0f}s")
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        reset_sequences([w.model for w in writers.order])
        _store_sequences(factory.issued)
        latest = Sitting.objects.get(pk=sittings.ids[-1])
        latest.release_at = clock.now() + timedelta(minutes=options.release_in_minutes)
        latest.review_closes_at = sittings.plans[-1].review_closes_at(
            latest.release_at, policy.review_working_days
        )
        latest.save(update_fields=["release_at", "review_closes_at"])
        result.latest_release_at = latest.release_at
        entry_setup(plans=plans, offices=offices, staff_username=DEMO_STAFF[0][0], log=log)
        result.counts = dict(factory.counts)
        result.counts["offices"] = len(offices)
        result.counts["sittings"] = len(sittings.ids)
        result.counts["timetable_entries"] = TimetableEntry.objects.filter(
            sitting_id__in=sittings.ids
        ).count()
        result.showcases = factory.showcase_rows
        audit_record(
            actor=actor,
            event_type="demo.built",
            subject_type="demo",
            subject_id=options.seed,
            after={
                "seed": options.seed,
                "candidates_requested": options.candidates,
                **result.counts,
                "latest_sitting": latest.label,
                "latest_release_at": latest.release_at.isoformat(),
                "showcases": [[row.candidate_no, row.role] for row in result.showcases],
            },
        )
    if connection.vendor == "postgresql" and options.candidates >= LARGE_LOAD:
        with connection.cursor() as cursor:
            for model in CANDIDATE_TABLES:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    result.seconds = time.monotonic() - started
    return result


def _store_sequences(issued: dict[str, int]) -> None:
    """Set each prefix's sequence to the highest number issued, so live issuing continues after it."""
    existing = {s.prefix: s for s in CandidateNumberSequence.objects.filter(prefix__in=list(issued))}
    update, create = [], []
    for prefix, last in issued.items():
        row = existing.get(prefix)
        if row is None:
            create.append(CandidateNumberSequence(prefix=prefix, last=last))
        elif row.last < last:
            row.last = last
            update.append(row)
    CandidateNumberSequence.objects.bulk_create(create, batch_size=1000)
    CandidateNumberSequence.objects.bulk_update(update, ["last"], batch_size=1000)
