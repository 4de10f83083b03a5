"""Office pages for violations (考试违规) under /office/conduct/.

List (filtered, scoped), record (candidate number + sitting → the candidate's courses of that
sitting → the decision), detail with history and voided scores, appeal lodging and decision,
revocation, and voiding results imported after the decision. Views parse and render only:
`conduct.selectors` reads (scoped), `conduct.services` writes (permission, scope, rules).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from zikao.accounts.permissions import Perm, PermissionDenied
from zikao.catalog.models import Course
from zikao.conduct import rules, selectors, services
from zikao.conduct.models import ViolationAppeal
from zikao.core.errors import DomainError, NotFound
from zikao.office.access import office_view, staff_actor
from zikao.office.forms_conduct import (
    AppealDecideForm,
    AppealLodgeForm,
    CandidateLookupForm,
    RevokeForm,
    ViolationFilterForm,
    ViolationRecordForm,
    add_domain_error,
)

PAGE_SIZE = 50


def _refusal(form, exc: DomainError) -> None:
    """Scope and permission refusals go to the 404/403 pages; every other refusal to the form."""
    if isinstance(exc, NotFound | PermissionDenied):
        raise exc
    add_domain_error(form, exc)


def _course_choices(results) -> list[tuple[int, str]]:
    return [(r.course_id, f"{r.course_code} {r.course_name}") for r in results]


def _course(course_id: int | None) -> Course | None:
    return Course.objects.filter(pk=course_id).first() if course_id is not None else None


@office_view(Perm.CONDUCT_VIEW)
@require_http_methods(["GET", "HEAD"])
def conduct_list(request: HttpRequest) -> HttpResponse:
    """Violations of candidates in the user's scope, newest first, filtered and paginated."""
    form = ViolationFilterForm(request.GET or None)
    rows = selectors.violations_for_staff(request.user).none()
    if form.is_bound and not form.is_valid():
        pass  # the errors are shown; no list for a malformed filter
    else:
        data = form.cleaned_data if form.is_bound else {}
        rows = selectors.violations_for_staff(
            request.user,
            sitting=data.get("sitting", ""),
            kind=data.get("kind", ""),
            status=data.get("status", ""),
            candidate_no=data.get("candidate_no", ""),
        )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "office/conduct/list.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


@office_view(Perm.CONDUCT_RECORD)
@require_http_methods(["GET", "HEAD", "POST"])
def conduct_record(request: HttpRequest) -> HttpResponse:
    """Record a violation. GET ?candidate_no=&sitting= shows the candidate's courses of that
    sitting (entries and current results) and the decision form; POST records it."""
    source = request.POST if request.method == "POST" else request.GET
    lookup = CandidateLookupForm(source if "candidate_no" in source else None)
    context: dict = {"lookup": lookup, "found": None, "form": None}
    if not lookup.is_bound or not lookup.is_valid():
        return render(request, "office/conduct/record.html", context)
    try:
        found = selectors.candidate_sitting(
            request.user, lookup.cleaned_data["candidate_no"], lookup.cleaned_data["sitting"]
        )
    except NotFound:
        # Missing and out of scope look the same.
        lookup.add_error("candidate_no", _("未找到该考生，或该考生不在您的管辖范围内。"))
        return render(request, "office/conduct/record.html", context)
    courses = _course_choices(found.results)
    initial = {"candidate_no": found.candidate.candidate_no, "sitting": found.sitting.label}
    if request.method != "POST":
        context.update(found=found, form=ViolationRecordForm(initial=initial, courses=courses))
        return render(request, "office/conduct/record.html", context)
    form = ViolationRecordForm(request.POST, courses=courses)
    context.update(found=found, form=form)
    if form.is_valid():
        data = form.cleaned_data
        try:
            violation = services.violation_record(
                actor=staff_actor(request),
                candidate=found.candidate,
                sitting=found.sitting,
                course=_course(data["course"]),
                kind=data["kind"],
                suspension_years=data["suspension_years"],
                description=data["description"],
                evidence_note=data["evidence_note"],
            )
        except DomainError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, _("违规处理已记录，相关成绩已作废。"))
            return redirect("office:conduct_detail", pk=violation.pk)
    return render(request, "office/conduct/record.html", context, status=422)


def _actions(request: HttpRequest, detail: selectors.ViolationDetail) -> dict:
    """Which action buttons this user can use on this violation now."""
    v = detail.violation
    can_record = Perm.CONDUCT_RECORD in request.office_perms  # type: ignore[attr-defined]
    active = v.revoked_at is None
    appeal_open = detail.appeal is not None and detail.appeal.status == ViolationAppeal.Status.OPEN
    may_review = rules.may_review(
        deciding_office_level=v.decided_by_office.level if v.decided_by_office else None,
        reviewer_level=request.user.office.level,  # type: ignore[union-attr]
    )
    return {
        "can_apply": can_record and active and bool(detail.pending),
        "can_lodge": can_record and active and detail.appeal is None,
        "can_decide": can_record and appeal_open and may_review,
        "appeal_open": appeal_open,
        "can_revoke": can_record and active and not appeal_open,
    }


@office_view(Perm.CONDUCT_VIEW)
@require_http_methods(["GET", "HEAD"])
def conduct_detail(request: HttpRequest, pk: int) -> HttpResponse:
    detail = selectors.violation_detail(request.user, pk)
    return render(
        request,
        "office/conduct/detail.html",
        {"d": detail, "v": detail.violation, **_actions(request, detail)},
    )


@office_view(Perm.CONDUCT_RECORD)
@require_POST
def conduct_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Void results in the violation's scope that were imported after the decision."""
    violation = selectors.violation_for_staff(request.user, pk)
    try:
        links = services.violation_apply(actor=staff_actor(request), violation=violation)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        messages.error(request, f"{exc.message}（{exc.code}）")
    else:
        messages.success(request, _("已补充作废 %(count)d 门课程的成绩。") % {"count": len(links)})
    return redirect("office:conduct_detail", pk=violation.pk)


@office_view(Perm.CONDUCT_RECORD)
@require_http_methods(["GET", "HEAD", "POST"])
def conduct_appeal_lodge(request: HttpRequest, pk: int) -> HttpResponse:
    violation = selectors.violation_for_staff(request.user, pk)
    form = AppealLodgeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.violation_appeal_lodge(
                    actor=staff_actor(request),
                    violation=violation,
                    submitted_on=form.cleaned_data["submitted_on"],
                    decision_received_on=form.cleaned_data["decision_received_on"],
                    grounds=form.cleaned_data["grounds"],
                )
            except DomainError as exc:
                _refusal(form, exc)
            else:
                messages.success(request, _("复核申请已登记。"))
                return redirect("office:conduct_detail", pk=violation.pk)
        status = 422
    else:
        status = 200
    return render(request, "office/conduct/appeal_lodge.html", {"v": violation, "form": form}, status=status)


@office_view(Perm.CONDUCT_RECORD)
@require_http_methods(["GET", "HEAD", "POST"])
def conduct_appeal_decide(request: HttpRequest, pk: int) -> HttpResponse:
    violation = selectors.violation_for_staff(request.user, pk)
    appeal = violation.appeals.filter(status=ViolationAppeal.Status.OPEN).first()
    if appeal is None:
        messages.error(request, _("该处理没有待决定的复核申请。"))
        return redirect("office:conduct_detail", pk=violation.pk)
    courses = _course_choices(selectors.sitting_results(violation.candidate, violation.sitting))
    form = AppealDecideForm(request.POST if request.method == "POST" else None, courses=courses)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            reduced = data["outcome"] == rules.APPEAL_REDUCED
            try:
                services.violation_appeal_decide(
                    actor=staff_actor(request),
                    appeal=appeal,
                    outcome=data["outcome"],
                    note=data["note"],
                    kind=data["kind"] if reduced else None,
                    course=_course(data["course"]) if reduced else None,
                    suspension_years=data["suspension_years"] if reduced else None,
                )
            except DomainError as exc:
                _refusal(form, exc)
            else:
                messages.success(request, _("复核决定已记录。"))
                return redirect("office:conduct_detail", pk=violation.pk)
    reviewer_level = rules.appeal_reviewer_level(
        violation.decided_by_office.level if violation.decided_by_office else None
    )
    return render(
        request,
        "office/conduct/appeal_decide.html",
        {"v": violation, "appeal": appeal, "form": form, "reviewer_level": reviewer_level},
        status=status,
    )


@office_view(Perm.CONDUCT_RECORD)
@require_http_methods(["GET", "HEAD", "POST"])
def conduct_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    violation = selectors.violation_for_staff(request.user, pk)
    form = RevokeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                services.violation_revoke(
                    actor=staff_actor(request), violation=violation, reason=form.cleaned_data["reason"]
                )
            except DomainError as exc:
                _refusal(form, exc)
            else:
                messages.success(request, _("违规处理已撤销，作废的成绩已恢复。"))
                return redirect("office:conduct_detail", pk=violation.pk)
    return render(request, "office/conduct/revoke.html", {"v": violation, "form": form}, status=status)
