"""Record administration (考籍管理): search, the whole record, profile-change decisions, password
back to the first password, merging two numbers of one person.

Thin: reads go through `candidates.selectors` (scoped to the staff user's offices), writes through
`candidates.services` / `accounts.services`, which check permission and scope again themselves.
ID numbers and phones are masked on every page; the full ID appears only in the response to an
explicit, audited "show full ID" POST. Pages holding personal data are not cached by the browser.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from zikao.accounts.permissions import Perm, require_perm
from zikao.accounts.services import candidate_password_reset_to_default
from zikao.candidates import photos, selectors
from zikao.candidates.models import ProfileChangeRequest
from zikao.candidates.rules import BIRTH_DATE_DIFFERS, ID_DIFFERS, NAME_DIFFERS
from zikao.candidates.services import (
    candidate_full_id_reveal,
    candidate_merge,
    profile_change_new_id_reveal,
    profile_change_request_approve,
    profile_change_request_reject,
    record_search_audit,
)
from zikao.core.errors import DomainError, NotFound
from zikao.core.masking import mask_id_number, mask_phone
from zikao.core.ratelimit import Limit, RateLimited, hit
from zikao.office.access import office_view, staff_actor
from zikao.office.forms_records import (
    ApproveForm,
    MergeConfirmForm,
    MergeForm,
    PhotoForm,
    RecordSearchForm,
    RejectForm,
)

REQUESTS_PAGE_SIZE = 30


def search_limit() -> Limit:
    """Searches per staff user per 10 minutes: plenty at a counter, a wall for bulk harvesting."""
    return Limit(
        "office-record-search", int(getattr(settings, "ZIKAO_OFFICE_SEARCH_PER_10_MINUTES", 60)), 600
    )


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


def _error_text(exc: DomainError) -> str:
    return f"{exc.message}（{exc.code}）"


# --- search --------------------------------------------------------------------------------------


@office_view(Perm.RECORDS_VIEW)
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    form = RecordSearchForm(request.GET if "q" in request.GET else None)
    context: dict = {"form": form, "page": None, "rows": [], "error": None, "querystring": ""}
    status = 200
    if form.is_bound and form.is_valid() and form.cleaned_data["q"].strip():
        query, by = form.cleaned_data["q"], form.cleaned_data["by"] or selectors.SearchKind.AUTO
        try:
            hit(search_limit(), str(request.user.pk))
            found = selectors.record_search(request.user, query, by)
            page = Paginator(found.results, selectors.SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
            record_search_audit(
                actor=staff_actor(request),
                kind=found.kind,
                query_masked=found.query_masked,
                page=page.number,
                result_count=page.paginator.count,
            )
            context.update(
                page=page,
                kind=found.kind,
                querystring=urlencode({"q": query, "by": by}),
                rows=[
                    {
                        "candidate_no": c.candidate_no,
                        "name": c.name,
                        "gender": c.get_gender_display(),
                        "birth_date": c.birth_date,
                        "id_type": c.get_id_type_display(),
                        "id_number": mask_id_number(c.id_number),
                        "phone": mask_phone(c.phone),
                        "county_office": c.county_office.name,
                        "status": c.status,
                        "status_label": c.get_status_display(),
                    }
                    for c in page.object_list
                ],
            )
        except RateLimited as exc:
            context["error"] = _error_text(exc)
            status = 429
        except DomainError as exc:
            form.add_error("q", _error_text(exc))
            status = 422
    elif form.is_bound and not form.errors:
        form.add_error("q", _("请输入准考证号、证件号码或姓名。") + "（RECORD_SEARCH_EMPTY）")
        status = 422
    elif form.is_bound:
        status = 422
    return _private(render(request, "office/records/search.html", context, status=status))


# --- the whole record ----------------------------------------------------------------------------


def _photo_context(candidate) -> dict:
    """The record photo in force, embedded in the (private, uncached) page as a data: URI: no
    image URL exists that could be fetched outside the page's own permission and scope checks."""
    info = photos.candidate_photo_info(candidate)
    return {
        "photo": info,
        "photo_src": photos.data_uri(photos.print_version(info.data)) if info is not None else "",
    }


def _record_page(
    request: HttpRequest, candidate, *, full_id: str | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "record": selectors.office_record(candidate),
        "full_id": full_id,
        **_photo_context(candidate),
        "photo_form": PhotoForm(),
    }
    return _private(render(request, "office/records/record.html", context, status=status))


@office_view(Perm.RECORDS_VIEW)
@require_GET
def record(request: HttpRequest, candidate_no: str) -> HttpResponse:
    return _record_page(request, selectors.office_candidate_get(request.user, candidate_no))


@office_view(Perm.RECORDS_VIEW_FULL_ID)
@require_POST
def reveal_id(request: HttpRequest, candidate_no: str) -> HttpResponse:
    """Show the full ID number once, in this response only; the service writes the audit event."""
    require_perm(request.user, Perm.RECORDS_VIEW)
    candidate = selectors.office_candidate_get(request.user, candidate_no)
    full = candidate_full_id_reveal(actor=staff_actor(request), candidate=candidate)
    return _record_page(request, candidate, full_id=full)


@office_view(Perm.RECORDS_CHANGE)
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest, candidate_no: str) -> HttpResponse:
    candidate = selectors.office_candidate_get(request.user, candidate_no)
    error, status = None, 200
    if request.method == "POST":
        try:
            candidate_password_reset_to_default(actor=staff_actor(request), candidate=candidate)
        except NotFound:
            raise
        except DomainError as exc:
            error, status = _error_text(exc), exc.status
        else:
            messages.success(
                request,
                _("准考证号 %(no)s 的密码已重置为出生日期(8位)，考生下次登录须修改密码；原有登录已全部失效。")
                % {"no": candidate.candidate_no},
            )
            return redirect("office:records_detail", candidate_no=candidate.candidate_no)
    context = {
        "candidate_no": candidate.candidate_no,
        "name": candidate.name,
        "id_number": mask_id_number(candidate.id_number),
        "closed": candidate.status == candidate.Status.MERGED,
        "error": error,
    }
    return _private(render(request, "office/records/password_reset.html", context, status=status))


# --- photo ---------------------------------------------------------------------------------------


@office_view(Perm.RECORDS_CHANGE)
@require_http_methods(["GET", "POST"])
def photo(request: HttpRequest, candidate_no: str) -> HttpResponse:
    """The record photo and the form to set or replace it (现场采集 / re-take). A refused upload
    (not an image, too large, wrong pixel size) shows the service's message; nothing is stored."""
    candidate = selectors.office_candidate_get(request.user, candidate_no)
    form = PhotoForm(request.POST, request.FILES) if request.method == "POST" else PhotoForm()
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                photos.candidate_photo_set(
                    actor=staff_actor(request),
                    candidate=candidate,
                    upload=form.cleaned_data["photo"],
                    source=form.cleaned_data["source"],
                    note=form.cleaned_data["note"],
                )
            except NotFound:
                raise
            except DomainError as exc:
                if exc.status == 403:
                    raise
                field = next((f for f in exc.fields if f in form.fields), None)
                form.add_error(field, _error_text(exc))
                status = exc.status
            else:
                messages.success(
                    request, _("准考证号 %(no)s 的照片已更新。") % {"no": candidate.candidate_no}
                )
                return redirect("office:records_detail", candidate_no=candidate.candidate_no)
        else:
            status = 422
    context = {
        "candidate_no": candidate.candidate_no,
        "name": candidate.name,
        "id_number": mask_id_number(candidate.id_number),
        "closed": candidate.status == candidate.Status.MERGED,
        "form": form,
        **_photo_context(candidate),
    }
    return _private(render(request, "office/records/photo.html", context, status=status))


# --- profile-change requests ---------------------------------------------------------------------

_REQUEST_FILTERS = {
    "requested": ProfileChangeRequest.Status.REQUESTED,
    "approved": ProfileChangeRequest.Status.APPROVED,
    "rejected": ProfileChangeRequest.Status.REJECTED,
    "all": None,
}


def _request_row(r: ProfileChangeRequest) -> dict:
    return {
        "pk": r.pk,
        "candidate_no": r.candidate.candidate_no,
        "name": r.candidate.name,
        "county_office": r.candidate.county_office.name,
        "field": r.get_field_display(),
        "old_value": r.old_value,
        "new_value": r.new_value_masked if r.field == r.Field.ID_NUMBER else r.new_value,
        "status": r.status,
        "status_label": r.get_status_display(),
        "requested_at": r.requested_at,
        "decided_at": r.decided_at,
    }


@office_view(Perm.RECORDS_CHANGE)
@require_GET
def requests_list(request: HttpRequest) -> HttpResponse:
    current = request.GET.get("status", "requested")
    if current not in _REQUEST_FILTERS:
        current = "requested"
    qs = selectors.profile_change_requests_in_scope(request.user, _REQUEST_FILTERS[current])
    page = Paginator(qs, REQUESTS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": [_request_row(r) for r in page.object_list],
        "current": current,
        "filters": [
            ("requested", _("待审核")),
            ("approved", _("已批准")),
            ("rejected", _("未批准")),
            ("all", _("全部")),
        ],
        "querystring": urlencode({"status": current}),
    }
    return _private(render(request, "office/records/requests.html", context))


def _request_page(
    request: HttpRequest,
    change: ProfileChangeRequest,
    *,
    approve_form: ApproveForm | None = None,
    reject_form: RejectForm | None = None,
    error: str | None = None,
    full_new_id: str | None = None,
    status: int = 200,
) -> HttpResponse:
    candidate = change.candidate
    if change.field == ProfileChangeRequest.Field.NAME:
        current = candidate.name
    elif change.field == ProfileChangeRequest.Field.ID_NUMBER:
        current = mask_id_number(candidate.id_number)
    else:
        current = candidate.birth_date.isoformat()
    context = {
        "change": change,
        "row": _request_row(change),
        "current_value": current,
        "id_type": candidate.get_id_type_display(),
        "is_id": change.field == ProfileChangeRequest.Field.ID_NUMBER,
        "full_new_id": full_new_id,
        "approve_form": approve_form or ApproveForm(),
        "reject_form": reject_form or RejectForm(),
        "error": error,
    }
    return _private(render(request, "office/records/request_detail.html", context, status=status))


@office_view(Perm.RECORDS_CHANGE)
@require_GET
def request_detail(request: HttpRequest, pk: str) -> HttpResponse:
    return _request_page(request, selectors.profile_change_request_get(request.user, pk))


@office_view(Perm.RECORDS_CHANGE)
@require_POST
def request_approve(request: HttpRequest, pk: str) -> HttpResponse:
    change = selectors.profile_change_request_get(request.user, pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return _request_page(request, change, approve_form=form, status=422)
    try:
        profile_change_request_approve(
            actor=staff_actor(request), request=change, note=form.cleaned_data["note"]
        )
    except NotFound:
        raise
    except DomainError as exc:
        change.refresh_from_db()
        return _request_page(request, change, approve_form=form, error=_error_text(exc), status=exc.status)
    messages.success(
        request,
        _("已批准 %(no)s 的%(field)s更正，考籍已更新。")
        % {"no": change.candidate.candidate_no, "field": change.get_field_display()},
    )
    return redirect("office:records_requests")


@office_view(Perm.RECORDS_CHANGE)
@require_POST
def request_reject(request: HttpRequest, pk: str) -> HttpResponse:
    change = selectors.profile_change_request_get(request.user, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _request_page(request, change, reject_form=form, status=422)
    try:
        profile_change_request_reject(
            actor=staff_actor(request), request=change, reason=form.cleaned_data["reason"]
        )
    except NotFound:
        raise
    except DomainError as exc:
        change.refresh_from_db()
        if exc.code == "PROFILE_REQUEST_DECISION_REASON_REQUIRED":
            form.add_error("reason", _error_text(exc))
            return _request_page(request, change, reject_form=form, status=exc.status)
        return _request_page(request, change, reject_form=form, error=_error_text(exc), status=exc.status)
    messages.success(
        request,
        _("已驳回 %(no)s 的%(field)s更正申请。")
        % {"no": change.candidate.candidate_no, "field": change.get_field_display()},
    )
    return redirect("office:records_requests")


@office_view(Perm.RECORDS_VIEW_FULL_ID)
@require_POST
def request_reveal_id(request: HttpRequest, pk: str) -> HttpResponse:
    require_perm(request.user, Perm.RECORDS_CHANGE)
    change = selectors.profile_change_request_get(request.user, pk)
    try:
        full = profile_change_new_id_reveal(actor=staff_actor(request), request=change)
    except NotFound:
        raise
    except DomainError as exc:
        return _request_page(request, change, error=_error_text(exc), status=exc.status)
    return _request_page(request, change, full_new_id=full)


# --- merge ---------------------------------------------------------------------------------------

_PROBLEM_TEXT = {
    NAME_DIFFERS: gettext_lazy("姓名不一致"),
    BIRTH_DATE_DIFFERS: gettext_lazy("出生日期不一致"),
    ID_DIFFERS: gettext_lazy("证件号码不一致(规范化后也不相同)"),
}


def _side(candidate) -> dict:
    return {
        "candidate_no": candidate.candidate_no,
        "name": candidate.name,
        "gender": candidate.get_gender_display(),
        "birth_date": candidate.birth_date,
        "id_type": candidate.get_id_type_display(),
        "id_number": mask_id_number(candidate.id_number),
        "county_office": candidate.county_office.name,
        "status_label": candidate.get_status_display(),
        "registered_on": candidate.registered_on,
    }


def _merge_page(
    request: HttpRequest, form: MergeForm, plan=None, *, error: str | None = None, status: int = 200
) -> HttpResponse:
    context: dict = {"form": form, "plan": plan, "error": error}
    if plan is not None:
        context.update(
            survivor=_side(plan.survivor),
            closed=_side(plan.closed),
            problems=[str(_PROBLEM_TEXT[p]) for p in plan.person_problems],
            confirm_form=MergeConfirmForm(
                initial={
                    "survivor_no": plan.survivor.candidate_no,
                    "closed_no": plan.closed.candidate_no,
                    "fingerprint": plan.fingerprint,
                }
            ),
            swap_query=urlencode(
                {"survivor_no": plan.closed.candidate_no, "closed_no": plan.survivor.candidate_no}
            ),
        )
    return _private(render(request, "office/records/merge.html", context, status=status))


@office_view(Perm.RECORDS_MERGE)
@require_http_methods(["GET", "POST"])
def merge(request: HttpRequest) -> HttpResponse:
    """GET: the form, and with both numbers the preview (what moves, what conflicts). POST: apply."""
    if request.method == "GET":
        if "survivor_no" not in request.GET and "closed_no" not in request.GET:
            return _merge_page(request, MergeForm())
        form = MergeForm(request.GET)
        if not form.is_valid():
            return _merge_page(request, form, status=422)
        plan = selectors.merge_preview(
            request.user,
            survivor_no=form.cleaned_data["survivor_no"],
            closed_no=form.cleaned_data["closed_no"],
        )
        return _merge_page(request, form, plan)
    confirm = MergeConfirmForm(request.POST)
    if not confirm.is_valid():
        form = MergeForm(request.POST)
        shown: selectors.MergePlan | None = None
        if form.is_valid():
            shown = selectors.merge_preview(
                request.user,
                survivor_no=form.cleaned_data["survivor_no"],
                closed_no=form.cleaned_data["closed_no"],
            )
        return _merge_page(
            request, form, shown, error=_("请勾选确认后再合并。") + "（MERGE_NOT_CONFIRMED）", status=422
        )
    data = confirm.cleaned_data
    survivor = selectors.office_candidate_get(request.user, data["survivor_no"])
    closed = selectors.office_candidate_get(request.user, data["closed_no"])
    try:
        result = candidate_merge(
            actor=staff_actor(request), survivor=survivor, closed=closed, fingerprint=data["fingerprint"]
        )
    except NotFound:
        raise
    except DomainError as exc:
        plan = selectors.merge_preview(
            request.user, survivor_no=data["survivor_no"], closed_no=data["closed_no"]
        )
        return _merge_page(request, MergeForm(request.POST), plan, error=_error_text(exc), status=exc.status)
    messages.success(
        request,
        _("已将准考证号 %(closed)s 合并至 %(survivor)s，共转移 %(count)d 条记录；%(closed)s 已撤销。")
        % {
            "closed": result.closed.candidate_no,
            "survivor": result.survivor.candidate_no,
            "count": sum(len(ids) for ids in result.moved.values()),
        },
    )
    return redirect("office:records_detail", candidate_no=result.survivor.candidate_no)
