"""Confirmation of online registrations (新生报名确认) under /office/registrations/.

The queue shows registrations whose exam area lies in the clerk's scope (county: its own; city:
its counties; province: all). The clerk checks the photo and the documents — served only by
`document`, which checks permission and scope and sends them as attachments-or-inline with
`X-Content-Type-Options: nosniff` — then confirms (the candidate number is issued) or rejects
with a reason. Services check permission and scope again. Pages are never cached.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from zikao.accounts.permissions import Perm
from zikao.candidates import registration_selectors as selectors
from zikao.candidates.models import Registration, RegistrationDocument
from zikao.candidates.registration import document_path, registration_confirm, registration_reject
from zikao.core.errors import DomainError, NotFound
from zikao.core.masking import mask_phone
from zikao.office.access import office_view, staff_actor
from zikao.office.forms_registration import ConfirmForm, QueueFilterForm, RejectForm

PAGE_SIZE = 30


def _private(response: HttpResponseBase) -> HttpResponseBase:
    response["Cache-Control"] = "private, no-store"
    return response


@office_view(Perm.REGISTRATION_CONFIRM)
@require_GET
def queue(request: HttpRequest) -> HttpResponseBase:
    form = QueueFilterForm(request.GET or None)
    status, q = Registration.Status.SUBMITTED, ""
    if form.is_valid():
        status = form.cleaned_data["status"] or Registration.Status.SUBMITTED
        q = form.cleaned_data["q"]
    page = Paginator(selectors.registration_queue(request.user, status=status, q=q), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return _private(
        render(request, "office/registration/queue.html", {"form": form, "page": page, "status": status})
    )


def _detail(
    request: HttpRequest,
    registration: Registration,
    *,
    confirm_form=None,
    reject_form=None,
    error: str = "",
    status: int = 200,
) -> HttpResponseBase:
    context = {
        "registration": registration,
        "documents": selectors.registration_documents(registration),
        "phone": mask_phone(registration.phone),
        "confirm_form": confirm_form or ConfirmForm(restricted=registration.major.restricted),
        "reject_form": reject_form or RejectForm(),
        "error": error,
    }
    return _private(render(request, "office/registration/detail.html", context, status=status))


@office_view(Perm.REGISTRATION_CONFIRM)
@require_GET
def detail(request: HttpRequest, pk: str) -> HttpResponseBase:
    return _detail(request, selectors.registration_get(request.user, pk))


@office_view(Perm.REGISTRATION_CONFIRM)
@require_GET
def document(request: HttpRequest, pk: str, kind: str) -> HttpResponseBase:
    """A stored photo or proof, only to a clerk with the permission and the registration in scope."""
    if kind not in RegistrationDocument.Kind.values:
        raise NotFound()
    doc = selectors.registration_document_get(request.user, pk, kind)
    try:
        handle = open(document_path(doc), "rb")  # noqa: SIM115 (FileResponse closes it)
    except OSError:
        raise NotFound() from None
    inline = doc.content_type in ("image/jpeg", "image/png", "application/pdf")
    response = FileResponse(
        handle,
        content_type=doc.content_type,
        as_attachment=not inline,
        filename=f"{doc.registration.pre_registration_no}-{doc.kind}.{doc.path.rsplit('.', 1)[-1]}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return _private(response)


@office_view(Perm.REGISTRATION_CONFIRM)
@require_POST
def confirm(request: HttpRequest, pk: str) -> HttpResponseBase:
    registration = selectors.registration_get(request.user, pk)
    form = ConfirmForm(request.POST, restricted=registration.major.restricted)
    if not form.is_valid():
        return _detail(request, registration, confirm_form=form, status=422)
    try:
        candidate = registration_confirm(
            actor=staff_actor(request),
            registration=registration,
            note=form.cleaned_data["note"],
            work_proof_checked=form.cleaned_data.get("work_proof_checked", False),
        )
    except NotFound:
        raise
    except DomainError as exc:
        registration.refresh_from_db()
        return _detail(
            request, registration, confirm_form=form, error=f"{exc.message}（{exc.code}）", status=exc.status
        )
    messages.success(
        request,
        _("已确认报名 %(pre)s，准考证号 %(no)s。")
        % {"pre": registration.pre_registration_no, "no": candidate.candidate_no},
    )
    return redirect("office:registration_detail", pk=registration.pk)


@office_view(Perm.REGISTRATION_CONFIRM)
@require_POST
def reject(request: HttpRequest, pk: str) -> HttpResponseBase:
    registration = selectors.registration_get(request.user, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _detail(request, registration, reject_form=form, status=422)
    try:
        registration_reject(
            actor=staff_actor(request), registration=registration, reason=form.cleaned_data["reason"]
        )
    except NotFound:
        raise
    except DomainError as exc:
        registration.refresh_from_db()
        return _detail(
            request, registration, reject_form=form, error=f"{exc.message}（{exc.code}）", status=exc.status
        )
    messages.success(request, _("已退回报名 %(pre)s。") % {"pre": registration.pre_registration_no})
    return redirect("office:registration_queue")
