"""The demo province: every number valid, every history consistent, the same seed the same province.

One province (400 candidates) is built per module inside an outer transaction that is rolled
back at the end; each test runs in its own savepoint on top of it.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import defaultdict
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from zikao.accounts.models import Office, User
from zikao.candidates.models import Candidate, CandidateMajor, CandidateNumberSequence
from zikao.catalog.models import Plan, Sitting, Slot, TimetableEntry
from zikao.catalog.planstore import plan_context
from zikao.catalog.rules import PassedCourse
from zikao.conduct.models import Violation
from zikao.core import clock
from zikao.core.codes import UNAMBIGUOUS_ALPHABET
from zikao.core.identity import parse_id_document
from zikao.core.models import AuditEvent
from zikao.core.numbers import candidate_no_prefix, is_valid_certificate_no
from zikao.credits.models import Exemption, TransferIn, TransferInCourse, TransferOut
from zikao.demo.build import DEFAULT_SEED, DEMO_STAFF
from zikao.demo.schedule import SHANGHAI
from zikao.demo.showcase import SHOWCASES
from zikao.entries.models import Entry
from zikao.graduation.models import Graduation
from zikao.scores import rules
from zikao.scores.models import Score

N = 400


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def province_digest() -> str:
    """Candidate numbers, identities, every score and certificate number, sorted in Python (so
    the digest does not depend on how a database orders NULLs)."""
    h = hashlib.sha256()
    rows = [
        *sorted(
            Candidate.objects.values_list(
                "candidate_no", "id_number", "name", "birth_date", "status", "county_office__region_code"
            )
        ),
        *sorted(
            Score.objects.values_list(
                "candidate__candidate_no",
                "course__code",
                "sitting__label",
                "value",
                "grade",
                "method",
                "status",
            ),
            key=repr,
        ),
        *sorted(Graduation.objects.values_list("certificate_no", "candidate__candidate_no")),
    ]
    for row in rows:
        h.update(repr(row).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def province(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        output = run_demo("--candidates", str(N), "--release-in", "15")
        yield {"output": output, "digest": province_digest()}
        transaction.set_rollback(True)


def passed(score: Score) -> bool:
    return rules.is_pass(value=score.value, grade=score.grade, status=score.status)


pytestmark = pytest.mark.django_db


def test_builds_the_requested_province(province):
    assert Candidate.objects.count() == N
    assert CandidateMajor.objects.count() == N
    assert Office.objects.filter(level="province", region_code="320000", name="江苏省教育考试院").exists()
    assert Office.objects.filter(level="city").count() == 13
    assert Office.objects.filter(level="county").count() == 95
    assert Plan.objects.count() >= 6
    event = AuditEvent.objects.get(event_type="demo.built")
    assert event.after["candidates"] == N
    assert event.after["scores"] == Score.objects.count()


def test_city_and_county_exam_codes(province):
    cities = {o.name: o.exam_code for o in Office.objects.filter(level="city")}
    assert cities["南京市教育考试院"] == "01" and cities["苏州市教育考试院"] == "05"
    assert cities["宿迁市教育考试院"] == "13"
    for county in Office.objects.filter(level="county").select_related("parent"):
        assert county.parent.level == "city"
        assert county.region_code[:4] == county.parent.region_code[:4]
        assert re.fullmatch(r"\d\d", county.exam_code) and county.exam_code != "00"


def test_every_id_number_is_valid_and_matches(province):
    for c in Candidate.objects.all():
        doc = parse_id_document(c.id_type, c.id_number)
        assert doc.birth_date == c.birth_date
        assert doc.gender == c.gender
        assert doc.region_code.startswith("32")
        assert 1975 <= c.birth_date.year <= 2006
        assert c.birth_date.year <= c.registered_on.year - 17
    assert Candidate.objects.values("id_number").distinct().count() == N


def test_candidate_numbers_and_sequences(province):
    issued: dict[str, int] = {}
    for c in Candidate.objects.select_related("county_office__parent"):
        county = c.county_office
        assert county.level == "county"
        assert re.fullmatch(r"\d{12}", c.candidate_no)
        prefix = candidate_no_prefix(
            county.parent.exam_code, county.exam_code, c.registered_on.year, c.registered_on.month
        )
        assert c.candidate_no[:7] == prefix
        seq = int(c.candidate_no[7:])
        assert seq >= 1
        issued[prefix] = max(issued.get(prefix, 0), seq)
    assert Candidate.objects.values("candidate_no").distinct().count() == N
    assert dict(CandidateNumberSequence.objects.values_list("prefix", "last")) == issued


def test_plans_and_prior_education(province):
    for cm in CandidateMajor.objects.select_related("plan", "major", "candidate"):
        assert cm.plan.major_id == cm.major_id
        if cm.plan.old_candidates_registered_before is not None:
            assert cm.registered_on < cm.plan.old_candidates_registered_before
        if cm.major.level == "benke":
            assert cm.candidate.prior_education in {"zhuanke", "benke", "postgraduate"}
            assert cm.candidate.prior_diploma_no
    assert CandidateMajor.objects.filter(plan__version=2021).exists()
    assert CandidateMajor.objects.filter(
        plan__major__code="080901", plan__version=2024, registered_on__lt=date(2024, 7, 1)
    ).exists()


def test_every_exam_score_has_its_entry(province):
    exam = Score.objects.filter(method="exam").select_related("entry__sitting", "candidate")
    assert exam.count() == Entry.objects.count()
    for s in exam:
        e = s.entry
        assert e is not None and s.sitting_id is not None
        assert (e.candidate_id, e.sitting_id, e.course_id) == (s.candidate_id, s.sitting_id, s.course_id)
        assert e.area_id == s.candidate.county_office_id
        assert e.status == "confirmed"
        assert s.candidate.created_at <= e.created_at <= e.sitting.entry_closes_at
    assert not Score.objects.exclude(method="exam").filter(sitting__isnull=False).exists()
    assert not Score.objects.exclude(method="exam").filter(entry__isnull=False).exists()


def test_values_grades_and_statuses(province):
    kinds = {"theory": 0, "practice": 0, "thesis": 0}
    for s in Score.objects.select_related("course"):
        rules.validate_result(course_kind=s.course.kind, value=s.value, grade=s.grade, status=s.status)
        kinds[s.course.kind] += 1
        if s.course.kind == "theory":
            assert s.grade == ""
        else:
            assert s.value is None
        if s.status in ("absent", "void"):
            assert s.value is None and s.grade == ""
    assert all(kinds.values())
    statuses = set(Score.objects.values_list("status", flat=True))
    assert {"valid", "absent", "void", "withheld"} <= statuses
    withheld = Score.objects.filter(status="withheld")
    assert set(withheld.values_list("sitting__label", flat=True)) == {"202610"}
    exam = list(Score.objects.filter(method="exam"))
    rate = sum(passed(s) for s in exam) / len(exam)
    assert 0.45 <= rate <= 0.7


def test_one_slot_per_course_and_at_most_four_per_sitting(province):
    slot_of = {(t.sitting_id, t.course_id): t.slot_id for t in TimetableEntry.objects.all()}
    per: dict[tuple[int, int], list[Entry]] = defaultdict(list)
    for e in Entry.objects.select_related("course"):
        per[(e.candidate_id, e.sitting_id)].append(e)
        if e.course.kind == "theory":
            assert (e.sitting_id, e.course_id) in slot_of, (
                "theory entered where the timetable does not offer it"
            )
    for entries in per.values():
        assert len(entries) <= 4
        slots = [slot_of[(e.sitting_id, e.course_id)] for e in entries if e.course.kind == "theory"]
        assert len(slots) == len(set(slots))


def passes_before(candidate_id: int, label: str | None) -> list[PassedCourse]:
    """The candidate's passes (one per course) from sittings before `label` and credit from elsewhere."""
    out: dict[str, PassedCourse] = {}
    for s in Score.objects.filter(candidate_id=candidate_id).select_related("course", "sitting"):
        when = s.sitting.label if s.sitting else None
        if passed(s) and (label is None or when is None or when < label):
            c = s.course
            out.setdefault(c.code, PassedCourse(c.code, c.name, c.credits, c.kind, s.method, when))
    return list(out.values())


def test_practice_only_after_theory_and_thesis_last(province):
    """Audited by the plan engine: a practice part only after its theory, the thesis only when
    every other requirement was met at an earlier sitting."""
    contexts = {p.pk: plan_context(p) for p in Plan.objects.select_related("major")}
    plan_of = dict(CandidateMajor.objects.values_list("candidate_id", "plan_id"))
    checked = {"practice": 0, "thesis": 0}
    for s in Score.objects.filter(method="exam", course__kind__in=["practice", "thesis"]).select_related(
        "course", "sitting"
    ):
        evaluation = contexts[plan_of[s.candidate_id]].evaluate(
            passes_before(s.candidate_id, s.sitting.label)
        )
        if s.course.kind == "practice":
            item = evaluation.item(s.course.code)
            assert item.blocked != "THEORY_NOT_PASSED", (s.candidate_id, s.course.code, s.sitting.label)
        else:
            assert evaluation.thesis_allowed, (s.candidate_id, s.sitting.label)
        checked[s.course.kind] += 1
    assert checked["practice"] and checked["thesis"]


def test_voided_scores_match_violations(province):
    labels = dict(Sitting.objects.values_list("pk", "label"))
    expected = set()
    for v in Violation.objects.all():
        sat = Score.objects.filter(candidate=v.candidate, sitting=v.sitting).exclude(status="absent")
        if v.penalty == "void_course":
            sat = sat.filter(course=v.course)
        keys = {(s.candidate_id, s.sitting_id, s.course_id) for s in sat}
        assert keys, f"violation without a voided score in {labels[v.sitting_id]}"
        expected |= keys
        if v.suspension:
            assert 1 <= v.suspension_years <= 3
            assert v.suspension_ends.year - v.suspension_starts.year == v.suspension_years
            later = Entry.objects.filter(
                candidate=v.candidate,
                sitting__first_day__gt=v.suspension_starts,
                sitting__first_day__lt=v.suspension_ends,
            )
            assert not later.exists(), "entered while suspended"
    voided = set(Score.objects.filter(status="void").values_list("candidate_id", "sitting_id", "course_id"))
    assert voided == expected
    assert Violation.objects.filter(suspension_ends__gt=clock.today()).exists()


def test_credit_from_elsewhere(province):
    assert Exemption.objects.exists() and TransferIn.objects.exists() and TransferOut.objects.exists()
    for ex in Exemption.objects.prefetch_related("courses"):
        assert ex.status == "approved"
        for course in ex.courses.all():
            assert course.kind != "thesis"
            s = Score.objects.get(candidate=ex.candidate, course=course, method="exemption")
            assert s.sitting_id is None and passed(s)
        first_local_pass = min(
            (
                s.sitting.release_at
                for s in Score.objects.filter(candidate=ex.candidate, method="exam").select_related("sitting")
                if passed(s)
            ),
            default=None,
        )
        assert first_local_pass is not None and first_local_pass < ex.requested_at
    for t in TransferIn.objects.all():
        courses = TransferInCourse.objects.filter(transfer=t)
        assert courses.exists()
        for tc in courses:
            s = Score.objects.get(candidate=t.candidate, course=tc.mapped_course, method="transfer")
            assert s.value == tc.value and s.sitting_id is None
    for t in TransferOut.objects.all():
        assert t.status == "completed" and t.candidate.status == "transferred_out"
        assert t.courses.exists()
        assert not Entry.objects.filter(candidate=t.candidate, created_at__gt=t.completed_at).exists()
    assert Candidate.objects.filter(status="transferred_out").count() == TransferOut.objects.count()


def test_graduations(province):
    graduations = list(Graduation.objects.select_related("candidate__county_office", "plan__major", "major"))
    assert graduations
    for g in graduations:
        assert is_valid_certificate_no(g.certificate_no)
        assert g.certificate_no[1] == ("5" if g.major.level == "benke" else "6")
        assert g.certificate_no[2:8] == g.candidate.county_office.region_code
        assert g.certificate_no[8:10] == f"{g.graduated_on.year % 100:02d}"
        assert (g.graduated_on.month, g.graduated_on.day) in ((6, 30), (12, 31))
        assert g.graduated_on <= clock.today()
        assert set(g.verification_code) <= set(UNAMBIGUOUS_ALPHABET) and len(g.verification_code) == 12
        assert g.candidate.status == "graduated"
        if g.plan.graduate_until:
            assert g.graduated_on <= g.plan.graduate_until
        if g.major.level == "benke":
            assert g.candidate.prior_diploma_verified
        evaluation = plan_context(g.plan).evaluate(passes_before(g.candidate_id, None))
        assert evaluation.complete, (g.certificate_no, evaluation.missing_required, evaluation.credits_short)
    assert Candidate.objects.filter(status="graduated").count() == len(graduations)
    assert Graduation.objects.values("verification_code").distinct().count() == len(graduations)
    assert Graduation.objects.values("certificate_no").distinct().count() == len(graduations)


def test_sittings_and_release_times(province):
    now = clock.now()
    # The history (201904–202610); the open next sitting is tests/demo/test_demo_entries.py's.
    sittings = list(Sitting.objects.filter(first_day__lte=now.date()).order_by("label"))
    assert sittings[0].label == "201904" and sittings[-1].label == "202610"
    assert {s.label[4:] for s in sittings} == {"01", "04", "07", "10"}
    latest = sittings[-1]
    assert latest.release_at > now
    assert all(s.release_at <= now for s in sittings[:-1])
    assert latest.review_closes_at > latest.release_at
    for s in sittings:
        assert s.entry_opens_at < s.entry_closes_at < s.release_at
        slots = list(Slot.objects.filter(sitting=s).order_by("starts_at"))
        assert [sl.code for sl in slots] == ["SAT_AM", "SAT_PM", "SUN_AM", "SUN_PM"]
        first = slots[0].starts_at.astimezone(SHANGHAI)
        assert first.date() == s.first_day and first.weekday() == 5 and first.hour == 9
        assert slots[3].ends_at.astimezone(SHANGHAI).hour == 17
    april = TimetableEntry.objects.filter(sitting__label="202504").count()
    july = TimetableEntry.objects.filter(sitting__label="202507").count()
    assert 0 < july < april
    assert not TimetableEntry.objects.exclude(course__kind="theory").exists()
    assert not TimetableEntry.objects.filter(sitting__label="202604", course__code="04751").exists()
    assert TimetableEntry.objects.filter(sitting__label="202610", course__code="04751").exists()
    assert not TimetableEntry.objects.filter(sitting__label="202410", course__code="00015").exists()


def test_showcases_and_logins_are_printed(province):
    output = province["output"]
    for show in SHOWCASES:
        line = next(li for li in output.splitlines() if show.name in li and show.role in li)
        number, _name, id_number = line.split()[:3]
        c = Candidate.objects.get(candidate_no=number)
        assert (c.name, c.id_number) == (show.name, id_number)
        assert f"password {show.birth:%Y%m%d}" in line
    by_key = {s.key: Candidate.objects.get(name=s.name, birth_date=s.birth) for s in SHOWCASES}
    assert by_key["graduated"].status == "graduated"
    assert Violation.objects.get(candidate=by_key["suspended"]).suspension_ends > clock.today()
    assert Score.objects.filter(
        candidate=by_key["withheld"], sitting__label="202610", status="withheld"
    ).exists()
    assert Score.objects.filter(candidate=by_key["exempted"], method="exemption").exists()
    assert TransferIn.objects.filter(candidate=by_key["transferred_in"]).exists()
    assert by_key["transferred_out"].status == "transferred_out"
    assert CandidateMajor.objects.get(candidate=by_key["plan2021"]).plan.version == 2021
    for username, password, _level, _region, superuser in DEMO_STAFF:
        user = User.objects.get(username=username)
        assert user.check_password(password) and user.is_staff and user.is_superuser == superuser
        assert f"{username}" in output and password in output


def test_rerun_without_reset_keeps_the_province(province):
    output = run_demo("--candidates", "10")
    assert "already exists" in output
    assert Candidate.objects.count() == N
    assert province_digest() == province["digest"]
    # `make run` on an existing demo still shows the same demo logins.
    first = province["output"]
    for show in SHOWCASES:
        line = next(li for li in first.splitlines() if show.name in li and show.role in li)
        assert " ".join(line.split()[:3]) in " ".join(output.split())
    for username, password, *_ in DEMO_STAFF:
        assert f"{username}" in output and password in output


def test_same_seed_same_province(province):
    run_demo("--reset", "--candidates", str(N), "--seed", str(DEFAULT_SEED))
    assert province_digest() == province["digest"]
    run_demo("--reset", "--candidates", str(N), "--seed", "7")
    assert province_digest() != province["digest"]


@pytest.mark.postgres
def test_postgres_bulk_path_restores_indexes(province, is_postgres):
    if not is_postgres:
        pytest.skip("PostgreSQL only")

    def schema():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('scores_score',"
                "'entries_entry','candidates_candidate','candidates_candidatemajor') ORDER BY 1"
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN "
                "('scores_score'::regclass,'entries_entry'::regclass,'candidates_candidate'::regclass,"
                "'candidates_candidatemajor'::regclass) ORDER BY 1"
            )
            return indexes, cursor.fetchall()

    before = schema()
    run_demo("--reset", "--candidates", str(N), "--defer-indexes", "always")
    assert schema() == before
    assert province_digest() == province["digest"]
