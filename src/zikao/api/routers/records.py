"""/api/me/…: the signed-in candidate's sittings, scores, passed courses, record and progress.

Same reads as the portal pages (`portal.selectors`, the release-hour cache `scores.cache`,
`candidates.selectors`), same error codes: NOT_FOUND (404) for a sitting that does not exist
or is not the candidate's, NOT_AUTHENTICATED / TOKEN_INVALID (401) without a valid token,
PASSWORD_CHANGE_REQUIRED (403) before the first password is changed. Responses carry
`Cache-Control: private, no-store`.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import get_language
from ninja import Router, Schema

from zikao.accounts.session_cache import Prefetch
from zikao.api.auth import CandidateTokenAuth
from zikao.candidates.models import Candidate
from zikao.candidates.selectors import candidate_record
from zikao.conduct.rules import SuspensionPeriod
from zikao.portal.presenters import (
    Number,
    PlanReport,
    credits_number,
    method_label,
    status_label,
)
from zikao.portal.selectors import (
    candidate_passed_summary,
    candidate_progress_reports,
    candidate_sitting_scores,
)
from zikao.scores.cache import (
    CandidateSitting,
    Prerendered,
    ScoreSnapshot,
    candidate_score_rendered,
    candidate_score_snapshot,
    register_prerenderer,
    rendered_prefetch,
)
from zikao.scores.selectors import PassedCourseRow, VisibleScore

router = Router(auth=CandidateTokenAuth())

Method = Literal["exam", "exemption", "substitution", "transfer"]
Status = Literal["valid", "absent", "void", "withheld"]
Kind = Literal["theory", "practice", "thesis"]


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict


class SittingOut(Schema):
    label: str
    released: bool
    release_at: datetime | None


class ScoreOut(Schema):
    course_code: str
    course_name: str
    course_kind: Kind
    credits: Number
    sitting: str | None
    value: int | None
    grade: str
    passed: bool
    method: Method
    method_label: str
    status: Status
    status_label: str


class LatestScoresOut(Schema):
    sitting: SittingOut | None
    scores: list[ScoreOut]
    pending: list[SittingOut]


class SittingScoresOut(Schema):
    sitting: SittingOut
    scores: list[ScoreOut]


class AllScoresOut(Schema):
    sittings: list[SittingOut]
    scores: list[ScoreOut]


class PassedCourseOut(Schema):
    course_code: str
    course_name: str
    course_kind: Kind
    credits: Number
    sitting: str | None
    value: int | None
    grade: str
    method: Method
    method_label: str


class PassedOut(Schema):
    written: list[PassedCourseOut]
    practice: list[PassedCourseOut]
    written_credits: Number
    practice_credits: Number
    total_courses: int
    total_credits: Number


class IdentityOut(Schema):
    candidate_no: str
    name: str
    former_name: str
    gender: str
    birth_date: date
    id_type: str
    id_number_masked: str
    phone_masked: str
    ethnicity: str
    county_office: str
    registered_on: date
    status: str


class MajorOut(Schema):
    major_code: str
    major_name: str
    level: str
    school: str
    plan_version: int
    plan_title: str
    registered_on: date
    active: bool


class ViolationOut(Schema):
    sitting: str
    course_code: str | None
    course_name: str | None
    kind: str
    kind_label: str
    penalty: str
    penalty_label: str
    suspension: str
    suspension_label: str
    suspension_years: int | None
    suspension_starts: date | None
    suspension_ends: date | None
    revoked: bool


class SuspensionOut(Schema):
    starts: date
    ends: date


class CourseOut(Schema):
    code: str
    name: str


class TransferOutOut(Schema):
    to_province: str
    status: str
    status_label: str
    requested_at: datetime
    completed_at: datetime | None
    courses: list[CourseOut]


class TransferInCourseOut(Schema):
    remote_code: str
    remote_name: str
    remote_credits: int
    remote_sitting: str
    value: int | None
    grade: str
    mapped_course: CourseOut | None


class TransferInOut(Schema):
    from_province: str
    from_candidate_no: str
    arrived_on: date
    courses: list[TransferInCourseOut]


class ExemptionOut(Schema):
    basis: str
    basis_label: str
    basis_detail: str
    decided_at: datetime | None
    courses: list[CourseOut]


class GraduationOut(Schema):
    major_code: str
    major_name: str
    level: str
    certificate_no: str
    graduated_on: date
    revoked: bool


class RecordOut(Schema):
    identity: IdentityOut
    majors: list[MajorOut]
    scores: list[ScoreOut]
    violations: list[ViolationOut]
    suspension: SuspensionOut | None
    transfers_out: list[TransferOutOut]
    transfers_in: list[TransferInOut]
    exemptions: list[ExemptionOut]
    graduations: list[GraduationOut]


class CourseRefOut(Schema):
    code: str
    name: str
    credits: Number


class DoneOut(Schema):
    code: str
    name: str
    credits: Number
    via: Literal["pass", "table", "politics", "waived", "extra"]
    methods: list[str]
    sources: list[CourseRefOut]
    rule: str
    counted: bool
    text: str


class MissingOut(Schema):
    code: str
    name: str
    credits: Number
    kind: str
    blocked: str | None
    text: str


class GroupOut(Schema):
    id: str
    title: str
    is_choice: bool
    short_courses: int
    short_credits: Number
    options: list[CourseRefOut]
    text: str


class ThesisOut(Schema):
    code: str
    name: str
    allowed: bool
    text: str


class PlanOut(Schema):
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
    done: list[DoneOut]
    extras: list[DoneOut]
    missing: list[MissingOut]
    open_choices: list[GroupOut]
    short_groups: list[GroupOut]
    thesis: list[ThesisOut]
    practice_blocked: list[MissingOut]


class ProgressOut(Schema):
    plans: list[PlanOut]


# --- mapping ---------------------------------------------------------------------------------


def _me(request: HttpRequest) -> Candidate:
    """The signed-in candidate (CandidateTokenAuth puts it in `request.auth`)."""
    return request.auth  # type: ignore[attr-defined]


def _private(response: HttpResponse) -> None:
    response["Cache-Control"] = "private, no-store"


def _sitting(s: CandidateSitting) -> dict:
    release_at = timezone.localtime(s.release_at) if s.release_at else None  # +08:00, as printed
    return {"label": s.label, "released": s.released, "release_at": release_at}


def _score(s: VisibleScore) -> dict:
    return {
        "course_code": s.course_code,
        "course_name": s.course_name,
        "course_kind": s.course_kind,
        "credits": credits_number(s.credits),
        "sitting": s.sitting,
        "value": s.value,
        "grade": s.grade,
        "passed": s.passed,
        "method": s.method,
        "method_label": method_label(s.method),
        "status": s.status,
        "status_label": status_label(s.status),
    }


def _passed(r: PassedCourseRow) -> dict:
    return {
        "course_code": r.course_code,
        "course_name": r.course_name,
        "course_kind": r.course_kind,
        "credits": credits_number(r.credits),
        "sitting": r.sitting,
        "value": r.value,
        "grade": r.grade,
        "method": r.method,
        "method_label": method_label(r.method),
    }


def _suspension(period: object) -> dict | None:
    if not isinstance(period, SuspensionPeriod):
        return None
    return {"starts": period.starts, "ends": period.ends}


def _course(c) -> dict:
    return {"code": c.code, "name": c.name}


def _plan(p: PlanReport) -> dict:
    """The presenter's report as the response body: PlanOut and its nested schemas have exactly
    the report's fields (tests/api/test_records.py checks the nested JSON), so nothing is copied by hand."""
    return dataclasses.asdict(p)


_ERRORS = {401: ErrorOut, 403: ErrorOut}


# --- endpoints -------------------------------------------------------------------------------


@router.get("/sittings", response={200: list[SittingOut], **_ERRORS}, summary="我的考次及成绩发布状态")
def my_sittings(request: HttpRequest, response: HttpResponse):
    """The candidate's sittings (entered, or holding visible scores), newest first, each with
    whether its scores are released and when."""
    _private(response)
    return [_sitting(s) for s in candidate_score_snapshot(_me(request)).sittings]


def _latest_json(request: HttpRequest, snapshot: ScoreSnapshot) -> bytes:
    """The body of /scores/latest for `snapshot`: validated by the schema, rendered as ninja does."""
    from zikao.api.api import api  # the API imports this module

    latest = snapshot.latest_released
    data = {
        "sitting": _sitting(latest) if latest else None,
        "scores": [_score(s) for s in snapshot.scores_of(latest.label)] if latest else [],
        "pending": [_sitting(s) for s in snapshot.pending],
    }
    return api.renderer.render(
        request, LatestScoresOut.model_validate(data).model_dump(), response_status=200
    )


def _latest_variant() -> str:
    return "\x1f".join(("api:latest", get_language() or "", timezone.get_current_timezone_name()))


def _latest_prefetch(request: HttpRequest) -> Prefetch:
    fixed, templates = rendered_prefetch(_latest_variant())
    return Prefetch(tuple(fixed), tuple(templates))


@router.get(
    "/scores/latest",
    auth=CandidateTokenAuth(prefetch=_latest_prefetch),
    response={200: LatestScoresOut, **_ERRORS},
    summary="最新成绩",
)
def my_latest_scores(request: HttpRequest, response: HttpResponse):
    """The newest released sitting's scores (null sitting when none), and the sittings whose
    scores are not released yet with their release times.

    The JSON body is rendered once per score snapshot (and language, time zone) and cached with
    the snapshot's own validity (`scores.cache.candidate_score_rendered`), read in the same
    cache round trip as the token check; `manage.py warm_release_snapshots` prepares it for
    each candidate of a sitting before its release (`prerender_latest`)."""
    _private(response)
    state = request.zikao_session_state  # type: ignore[attr-defined]
    response.content = candidate_score_rendered(
        _me(request),  # built only on a miss
        _latest_variant(),
        lambda snapshot: _latest_json(request, snapshot),
        prefetched=getattr(request, "zikao_prefetched", None),
        candidate_id=state.candidate_id,
    )
    response.status_code = 200
    return response


@register_prerenderer("api.latest")
def prerender_latest(candidate, snapshot: ScoreSnapshot) -> list[Prerendered]:
    """The JSON of /api/me/scores/latest in the default language (`warm_release`)."""
    with translation.override(settings.LANGUAGE_CODE):
        variant = _latest_variant()
        value = _latest_json(HttpRequest(), snapshot)
    return [Prerendered(variant, variant, value)]


@router.get("/scores", response={200: AllScoresOut, **_ERRORS}, summary="历次全部成绩")
def my_scores(request: HttpRequest, response: HttpResponse):
    """Every visible score (by sitting, then course; credit without a sitting last) and the
    candidate's sittings with their release status."""
    _private(response)
    snapshot = candidate_score_snapshot(_me(request))
    return {
        "sittings": [_sitting(s) for s in snapshot.sittings],
        "scores": [_score(s) for s in snapshot.scores],
    }


@router.get(
    "/sittings/{label}/scores",
    response={200: SittingScoresOut, 404: ErrorOut, **_ERRORS},
    summary="某一考次的成绩",
)
def my_sitting_scores(request: HttpRequest, response: HttpResponse, label: str):
    """One sitting's scores. Before release: the release time and no scores. NOT_FOUND (404)
    when the sitting does not exist or is not one the candidate entered."""
    _private(response)
    found = candidate_sitting_scores(_me(request), label)
    return {"sitting": _sitting(found.sitting), "scores": [_score(s) for s in found.scores]}


@router.get("/passed", response={200: PassedOut, **_ERRORS}, summary="已通过课程")
def my_passed(request: HttpRequest, response: HttpResponse):
    """The best pass of each course: written (theory) and practice (practice, thesis) courses
    separately, with method, sitting and credits, and the totals."""
    _private(response)
    s = candidate_passed_summary(_me(request))
    return {
        "written": [_passed(r) for r in s.written],
        "practice": [_passed(r) for r in s.practice],
        "written_credits": s.written_credits,
        "practice_credits": s.practice_credits,
        "total_courses": s.total_courses,
        "total_credits": s.total_credits,
    }


@router.get("/record", response={200: RecordOut, **_ERRORS}, summary="考籍档案")
def my_record(request: HttpRequest, response: HttpResponse):
    """Identity (ID number and phone masked), majors and plans, scores, violations with
    penalties and any running suspension, transfers out and in, exemptions, graduation."""
    _private(response)
    r = candidate_record(_me(request))
    i = r.identity
    return {
        "identity": {
            "candidate_no": i.candidate_no,
            "name": i.name,
            "former_name": i.former_name,
            "gender": i.gender,
            "birth_date": i.birth_date,
            "id_type": i.id_type,
            "id_number_masked": i.id_number_masked,
            "phone_masked": i.phone_masked,
            "ethnicity": i.ethnicity,
            "county_office": i.county_office,
            "registered_on": i.registered_on,
            "status": i.status,
        },
        "majors": [
            {
                "major_code": m.major.code,
                "major_name": m.major.name,
                "level": m.major.level,
                "school": m.major.school.name,
                "plan_version": m.plan.version,
                "plan_title": m.plan.title,
                "registered_on": m.registered_on,
                "active": m.active,
            }
            for m in r.majors
        ],
        "scores": [_score(s) for s in r.scores],
        "violations": [
            {
                "sitting": v.sitting.label,
                "course_code": v.course.code if v.course else None,
                "course_name": v.course.name if v.course else None,
                "kind": v.kind,
                "kind_label": v.get_kind_display(),
                "penalty": v.penalty,
                "penalty_label": v.get_penalty_display(),
                "suspension": v.suspension,
                "suspension_label": v.get_suspension_display() if v.suspension else "",
                "suspension_years": v.suspension_years,
                "suspension_starts": v.suspension_starts,
                "suspension_ends": v.suspension_ends,
                "revoked": v.revoked_at is not None,
            }
            for v in r.violations
        ],
        "suspension": _suspension(r.suspension),
        "transfers_out": [
            {
                "to_province": t.to_province,
                "status": t.status,
                "status_label": t.get_status_display(),
                "requested_at": t.requested_at,
                "completed_at": t.completed_at,
                "courses": [_course(c) for c in t.courses.all()],
            }
            for t in r.transfers_out
        ],
        "transfers_in": [
            {
                "from_province": t.from_province,
                "from_candidate_no": t.from_candidate_no,
                "arrived_on": t.arrived_on,
                "courses": [
                    {
                        "remote_code": c.remote_code,
                        "remote_name": c.remote_name,
                        "remote_credits": c.remote_credits,
                        "remote_sitting": c.remote_sitting,
                        "value": c.value,
                        "grade": c.grade,
                        "mapped_course": _course(c.mapped_course) if c.mapped_course else None,
                    }
                    for c in t.courses.all()
                ],
            }
            for t in r.transfers_in
        ],
        "exemptions": [
            {
                "basis": e.basis,
                "basis_label": e.get_basis_display(),
                "basis_detail": e.basis_detail,
                "decided_at": e.decided_at,
                "courses": [_course(c) for c in e.courses.all()],
            }
            for e in r.exemptions
        ],
        "graduations": [
            {
                "major_code": g.major.code,
                "major_name": g.major.name,
                "level": g.major.level,
                "certificate_no": g.certificate_no,
                "graduated_on": g.graduated_on,
                "revoked": g.revoked_at is not None,
            }
            for g in r.graduations
        ],
    }


@router.get("/progress", response={200: ProgressOut, **_ERRORS}, summary="毕业预测")
def my_progress(request: HttpRequest, response: HttpResponse):
    """The plan engine's answer per plan version, in structure and in plain words (`text`,
    `summary`): what is done and how, what is missing, open choices, short elective sets,
    credits short, the thesis and whether it may be entered, practice parts not yet allowed.
    For an older-plan candidate both versions, each with whether it is still available."""
    _private(response)
    return {"plans": [_plan(p) for p in candidate_progress_reports(_me(request))]}
