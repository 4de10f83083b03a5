"""Office score pages under /office/scores/: publication of sittings, withholding, the preview
"as of", a candidate's scores, and the four-eyes corrections queue.

Thin: reads come from `scores.selectors` (scoped to the staff user), writes from
`scores.publication` and `scores.services`, which check permission and scope again. A refusal
is shown next to the field it concerns with its code; nothing here decides a rule. The preview
never touches the release-hour cache.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from zikao.accounts.permissions import Perm, has_perm
from zikao.core import clock
from zikao.core.errors import DomainError, NotFound
from zikao.core.masking import mask_name
from zikao.office.access import denied, office_view, staff_actor
from zikao.office.forms_scores import (
    CandidateLookupForm,
    CorrectionRequestForm,
    DecisionForm,
    PreviewForm,
    PublishEarlyForm,
    RescheduleForm,
    WithholdForm,
    WithholdingReleaseForm,
)
from zikao.portal.presenters import method_label, result_text, status_label
from zikao.scores import rules
from zikao.scores import selectors as sel
from zikao.scores.models import ScoreCorrection
from zikao.scores.publication import (
    sitting_publish_early,
    sitting_release_reschedule,
    withholding_create,
    withholding_release,
)
from zikao.scores.services import (
    correction_approve,
    correction_evidence_open,
    correction_reject,
    correction_request,
    correction_withdraw,
)

CSS = "zikao/office/scores.css"


# --- helpers ----------------------------------------------------------------------------------


def _error_text(exc: DomainError) -> str:
    return f"{exc.message}（{exc.code}）"


def _add_error(form: forms.Form, exc: DomainError) -> None:
    """Put a domain refusal next to the field it names (else above the form), with its code."""
    field = next((name for name in exc.fields if name in form.fields), None)
    form.add_error(field, forms.ValidationError(_error_text(exc), code=exc.code))


def _duration_text(seconds: int | None) -> str:
    if seconds is None:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    hms = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if days:
        return _("%(days)s天 %(hms)s") % {"days": days, "hms": hms}
    return hms


def _state_label(state: str) -> str:
    return {
        rules.RELEASE_UNSCHEDULED: _("未设定发布时间"),
        rules.RELEASE_SCHEDULED: _("待发布"),
        rules.RELEASE_RELEASED: _("已发布"),
        rules.RELEASE_PUBLISHED_EARLY: _("已提前发布"),
    }.get(state, state)


def _result(value, grade, status) -> str:
    return result_text(value=value, grade=grade, status=status)


def _any_correction_perm(user) -> bool:
    return has_perm(user, Perm.SCORES_CORRECT_REQUEST) or has_perm(user, Perm.SCORES_CORRECT_APPROVE)


def corrections_view(view: Callable) -> Callable:
    """Office pages of the corrections queue: for staff who may request or approve corrections."""

    @office_view()
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not _any_correction_perm(request.user):
            return denied(request, Perm.SCORES_CORRECT_APPROVE)
        return view(request, *args, **kwargs)

    return wrapped


# --- sittings and their publication -----------------------------------------------------------


@require_GET
@office_view(Perm.SCORES_VIEW)
def sittings(request: HttpRequest) -> HttpResponse:
    """成绩发布: every sitting with its release time and state, newest first."""
    rows = [
        {
            "row": r,
            "state_label": _state_label(r.state),
            "countdown": _duration_text(r.seconds_to_release) if r.state == rules.RELEASE_SCHEDULED else "",
        }
        for r in sel.sittings_publication_overview()
    ]
    return render(request, "office/scores/sittings.html", {"rows": rows, "css": CSS})


def _sitting_page(
    request: HttpRequest,
    sitting,
    *,
    reschedule_form: RescheduleForm | None = None,
    withhold_form: WithholdForm | None = None,
    status: int = 200,
) -> HttpResponse:
    publication = sel.sitting_publication(request.user, sitting)
    if reschedule_form is None:
        initial = {"release_at": timezone.localtime(sitting.release_at)} if sitting.release_at else {}
        reschedule_form = RescheduleForm(initial=initial)
    context = {
        "css": CSS,
        "sitting": sitting,
        "publication": publication,
        "state_label": _state_label(publication.state),
        "released": publication.state in (rules.RELEASE_RELEASED, rules.RELEASE_PUBLISHED_EARLY),
        "countdown": _duration_text(publication.seconds_to_release),
        "now": clock.now(),
        "reschedule_form": reschedule_form,
        "withhold_form": withhold_form or WithholdForm(),
        "mask_name": mask_name,
        "active": [{"w": w, "name": mask_name(w.candidate.name)} for w in publication.active_withholdings],
        "released_withholdings": [
            {"w": w, "name": mask_name(w.candidate.name)} for w in publication.released_withholdings
        ],
    }
    response = render(request, "office/scores/sitting.html", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@office_view(Perm.SCORES_VIEW)
def sitting(request: HttpRequest, label: str) -> HttpResponse:
    """A sitting's publication page: release time and countdown, move it, publish early,
    withholdings (active and released) of candidates in the user's scope."""
    return _sitting_page(request, sel.sitting_get(label))


@require_POST
@office_view(Perm.SCORES_PUBLISH)
def sitting_reschedule(request: HttpRequest, label: str) -> HttpResponse:
    found = sel.sitting_get(label)
    form = RescheduleForm(request.POST)
    if form.is_valid():
        try:
            sitting_release_reschedule(
                actor=staff_actor(request), sitting=found, release_at=form.cleaned_data["release_at"]
            )
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            _add_error(form, exc)
        else:
            messages.success(request, _("发布时间已更新。"))
            return redirect("office:scores_sitting", label=found.label)
    return _sitting_page(request, found, reschedule_form=form, status=400)


@require_http_methods(["GET", "POST"])
@office_view(Perm.SCORES_PUBLISH)
def sitting_publish_early_view(request: HttpRequest, label: str) -> HttpResponse:
    """提前发布: a confirmation page (tick and type the label), then publish at once."""
    found = sel.sitting_get(label)
    form = PublishEarlyForm(request.POST or None, sitting_label=found.label)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                sitting_publish_early(actor=staff_actor(request), sitting=found)
            except DomainError as exc:
                if isinstance(exc, NotFound):
                    raise
                _add_error(form, exc)
            else:
                messages.success(request, _("本考次成绩已发布。"))
                return redirect("office:scores_sitting", label=found.label)
        status = 400
    publication = sel.sitting_publication(request.user, found)
    context = {
        "css": CSS,
        "sitting": found,
        "publication": publication,
        "state_label": _state_label(publication.state),
        "form": form,
    }
    return render(request, "office/scores/publish_early.html", context, status=status)


@require_POST
@office_view(Perm.SCORES_WITHHOLD)
def withhold(request: HttpRequest, label: str) -> HttpResponse:
    """Withhold one candidate (by number, in the user's scope) in this sitting."""
    found = sel.sitting_get(label)
    form = WithholdForm(request.POST)
    if form.is_valid():
        try:
            candidate = sel.staff_candidate_get(request.user, form.cleaned_data["candidate_no"])
            withholding_create(
                actor=staff_actor(request),
                candidate=candidate,
                sitting=found,
                reason=form.cleaned_data["reason"],
            )
        except NotFound as exc:
            form.add_error("candidate_no", forms.ValidationError(_error_text(exc), code=exc.code))
        except DomainError as exc:
            _add_error(form, exc)
        else:
            messages.success(
                request,
                _("已暂缓发布考生 %(no)s 的本考次成绩。") % {"no": candidate.candidate_no},
            )
            return redirect("office:scores_sitting", label=found.label)
    return _sitting_page(request, found, withhold_form=form, status=400)


@require_http_methods(["GET", "POST"])
@office_view(Perm.SCORES_WITHHOLD)
def withholding_release_view(request: HttpRequest, pk: int) -> HttpResponse:
    """解除暂缓发布: a note, then the candidate's scores of the sitting are visible at once."""
    found = sel.withholding_get(request.user, pk)
    form = WithholdingReleaseForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                withholding_release(
                    actor=staff_actor(request), withholding=found, note=form.cleaned_data["note"]
                )
            except DomainError as exc:
                if isinstance(exc, NotFound):
                    raise
                _add_error(form, exc)
            else:
                messages.success(request, _("已解除暂缓发布。"))
                return redirect("office:scores_sitting", label=found.sitting.label)
        status = 400
    context = {"css": CSS, "w": found, "name": mask_name(found.candidate.name), "form": form}
    return render(request, "office/scores/withholding_release.html", context, status=status)


# --- preview ----------------------------------------------------------------------------------


def _visible_rows(scores) -> list[dict]:
    return [
        {
            "sitting": s.sitting,
            "code": s.course_code,
            "name": s.course_name,
            "result": _result(s.value, s.grade, s.status),
            "passed": s.passed,
            "method": method_label(s.method),
            "status": status_label(s.status),
        }
        for s in scores
    ]


@require_GET
@office_view(Perm.SCORES_PUBLISH)
def preview(request: HttpRequest) -> HttpResponse:
    """预览: a candidate's score view as it would be at a chosen time (read only, never cached)."""
    form = PreviewForm(request.GET or None)
    result = None
    candidate = None
    status = 200
    if request.GET:
        status = 400
        if form.is_valid():
            try:
                candidate = sel.staff_candidate_get(request.user, form.cleaned_data["candidate_no"])
                result = sel.candidate_score_preview(request.user, candidate, at=form.cleaned_data["at"])
                status = 200
            except NotFound as exc:
                form.add_error("candidate_no", forms.ValidationError(_error_text(exc), code=exc.code))
                status = 404
    context = {
        "css": CSS,
        "form": form,
        "preview": result,
        "candidate": candidate,
        "name": mask_name(candidate.name) if candidate else "",
        "rows": _visible_rows(result.scores) if result else [],
        "passed": [
            {
                "code": p.course_code,
                "name": p.course_name,
                "sitting": p.sitting,
                "result": _result(p.value, p.grade, "valid"),
                "method": method_label(p.method),
            }
            for p in (result.passed if result else [])
        ],
        "sittings": [
            {"s": s, "withheld": s.withheld, "released": s.released}
            for s in (result.sittings if result else [])
        ],
    }
    response = render(request, "office/scores/preview.html", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


# --- a candidate's scores and one result ------------------------------------------------------


@require_GET
@office_view(Perm.SCORES_VIEW)
def candidate_lookup(request: HttpRequest) -> HttpResponse:
    """Find a candidate's scores by number (in scope; else the same not-found as a missing one)."""
    form = CandidateLookupForm(request.GET or None)
    if request.GET and form.is_valid():
        candidate = sel.staff_candidate_get(request.user, form.cleaned_data["candidate_no"])
        return redirect("office:scores_candidate", candidate_no=candidate.candidate_no)
    status = 400 if request.GET else 200
    return render(request, "office/scores/candidate_lookup.html", {"css": CSS, "form": form}, status=status)


@require_GET
@office_view(Perm.SCORES_VIEW)
def candidate_scores(request: HttpRequest, candidate_no: str) -> HttpResponse:
    """A candidate's current results with their publication state and correction links."""
    candidate = sel.staff_candidate_get(request.user, candidate_no)
    can_request = has_perm(request.user, Perm.SCORES_CORRECT_REQUEST)
    rows = []
    for r in sel.staff_candidate_scores(request.user, candidate):
        s = r.score
        rows.append(
            {
                "pk": s.pk,
                "sitting": s.sitting.label if s.sitting else None,
                "code": s.course.code,
                "name": s.course.name,
                "result": _result(s.value, s.grade, s.status) if r.value_shown else "—",
                "method": method_label(s.method),
                "status": status_label(s.status) if r.value_shown else "—",
                "released": r.released,
                "withheld": r.withheld,
                "visible": r.visible_to_candidate,
                "corrected": s.supersedes_id is not None,
                "open_correction_id": r.open_correction_id,
                "can_request": can_request and r.released and r.open_correction_id is None,
            }
        )
    context = {
        "css": CSS,
        "candidate": candidate,
        "name": mask_name(candidate.name),
        "rows": rows,
        "withheld": sorted(sel.candidate_withheld_sittings(candidate)),
    }
    response = render(request, "office/scores/candidate.html", context)
    response["Cache-Control"] = "private, no-store"
    return response


def _version_rows(user, versions) -> list[dict]:
    return [
        {
            "n": index,
            "score": v,
            "result": _result(v.value, v.grade, v.status) if sel.score_value_shown(user, v) else "—",
            "status": status_label(v.status) if sel.score_value_shown(user, v) else "—",
            "by": v.created_by.get_username() if v.created_by else _("系统"),
        }
        for index, v in enumerate(versions, start=1)
    ]


@require_GET
@office_view(Perm.SCORES_VIEW)
def score_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One result: every version (who, when, why) and the correction requests made on it."""
    score = sel.staff_score_get(request.user, pk)
    versions = sel.score_history(score)
    current = versions[-1]
    corrections = sel.corrections_of_score(score) if _any_correction_perm(request.user) else []
    released = current.sitting is None or sel.sitting_release(current.sitting).released
    context = {
        "css": CSS,
        "score": current,
        "candidate": current.candidate,
        "name": mask_name(current.candidate.name),
        "versions": _version_rows(request.user, versions),
        "corrections": corrections,
        "can_request": has_perm(request.user, Perm.SCORES_CORRECT_REQUEST)
        and current.is_current
        and released
        and not any(
            c.status == ScoreCorrection.Status.REQUESTED and c.score_id == current.pk for c in corrections
        ),
    }
    response = render(request, "office/scores/score.html", context)
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@office_view(Perm.SCORES_CORRECT_REQUEST)
def correction_new(request: HttpRequest, pk: int) -> HttpResponse:
    """申请更正: new result, reason, evidence (note or file); a second person decides."""
    score = sel.staff_score_get(request.user, pk)
    form = CorrectionRequestForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                correction = correction_request(
                    actor=staff_actor(request),
                    score=score,
                    new_value=data["new_value"],
                    new_grade=data["new_grade"] or "",
                    new_status=data["new_status"],
                    reason=data["reason"],
                    evidence_note=data["evidence_note"],
                    evidence_file=data["evidence_file"],
                )
            except DomainError as exc:
                if isinstance(exc, NotFound):
                    raise
                _add_error(form, exc)
            else:
                messages.success(request, _("更正申请已提交，待另一位工作人员审核。"))
                return redirect("office:scores_correction", pk=correction.pk)
        status = 400
    context = {
        "css": CSS,
        "score": score,
        "candidate": score.candidate,
        "name": mask_name(score.candidate.name),
        "result": _result(score.value, score.grade, score.status),
        "status": status_label(score.status),
        "form": form,
    }
    return render(request, "office/scores/correction_new.html", context, status=status)


# --- corrections queue ------------------------------------------------------------------------


def _correction_row(c: ScoreCorrection) -> dict:
    return {
        "c": c,
        "name": mask_name(c.score.candidate.name),
        "old": _result(c.score.value, c.score.grade, c.score.status),
        "new": _result(c.new_value, c.new_grade, c.new_status),
    }


@require_GET
@corrections_view
def corrections(request: HttpRequest) -> HttpResponse:
    """成绩更正: open requests (oldest first) and the latest decisions, in the user's scope."""
    context = {
        "css": CSS,
        "open": [_correction_row(c) for c in sel.corrections_open(request.user)],
        "decided": [_correction_row(c) for c in sel.corrections_decided(request.user)],
    }
    return render(request, "office/scores/corrections.html", context)


def _correction_page(request: HttpRequest, correction: ScoreCorrection, *, form=None, action="", status=200):
    user = request.user
    is_requester = correction.requested_by_id == user.pk
    is_open = correction.status == ScoreCorrection.Status.REQUESTED
    current = sel.score_history(correction.score)[-1]
    context = {
        "css": CSS,
        "c": correction,
        "candidate": correction.score.candidate,
        "name": mask_name(correction.score.candidate.name),
        "old_result": _result(correction.score.value, correction.score.grade, correction.score.status),
        "old_status": status_label(correction.score.status),
        "new_result": _result(correction.new_value, correction.new_grade, correction.new_status),
        "new_status": status_label(correction.new_status),
        "current": current,
        "current_result": _result(current.value, current.grade, current.status),
        "is_requester": is_requester,
        "can_decide": is_open and not is_requester and has_perm(user, Perm.SCORES_CORRECT_APPROVE),
        "can_withdraw": is_open and is_requester and has_perm(user, Perm.SCORES_CORRECT_REQUEST),
        "is_open": is_open,
        "form": form if form is not None else DecisionForm(),
        "failed_action": action,
    }
    response = render(request, "office/scores/correction.html", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@corrections_view
def correction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One request: old vs new, reason and evidence, and the decision buttons the user may use."""
    return _correction_page(request, sel.correction_get(request.user, pk))


def _decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    correction = sel.correction_get(request.user, pk)
    form = DecisionForm(request.POST)
    actions: dict[str, tuple[Callable[..., ScoreCorrection], str]] = {
        "approve": (correction_approve, _("已批准更正，成绩已更新（原成绩保留在历史中）。")),
        "reject": (correction_reject, _("已驳回更正申请。")),
        "withdraw": (correction_withdraw, _("已撤回更正申请。")),
    }
    service, done = actions[action]
    if form.is_valid():
        try:
            service(actor=staff_actor(request), correction=correction, note=form.cleaned_data["note"])
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            _add_error(form, exc)
            correction = sel.correction_get(request.user, pk)
        else:
            messages.success(request, done)
            return redirect("office:scores_correction", pk=correction.pk)
    return _correction_page(request, correction, form=form, action=action, status=400)


@require_POST
@office_view(Perm.SCORES_CORRECT_APPROVE)
def correction_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "approve")


@require_POST
@office_view(Perm.SCORES_CORRECT_APPROVE)
def correction_reject_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "reject")


@require_POST
@office_view(Perm.SCORES_CORRECT_REQUEST)
def correction_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "withdraw")


@require_GET
@corrections_view
def correction_evidence(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The evidence file, as a download (never inline), for staff with a correction permission;
    every download is an audit event."""
    correction = sel.correction_get(request.user, pk)
    try:
        handle, filename = correction_evidence_open(actor=staff_actor(request), correction=correction)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, _error_text(exc))
        return redirect("office:scores_correction", pk=correction.pk)
    response = FileResponse(handle, as_attachment=True, filename=filename)
    response["Cache-Control"] = "private, no-store"
    return response
