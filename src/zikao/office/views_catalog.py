"""Office pages of the catalog: courses, schools, majors, plans (upload → preview → apply),
sittings and their timetable (single rows, spreadsheet import with a dry run).

Reading needs CATALOG_VIEW; every change needs CATALOG_CHANGE (province level only) and goes
through `zikao.catalog.services`, which checks the permission again, validates, audits and
refuses with stable codes shown next to the field. Reads come from `zikao.catalog.selectors`.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zikao.accounts.permissions import Perm, PermissionDenied
from zikao.catalog import selectors, services
from zikao.catalog.models import CatalogUpload, Course, Major, Plan, School, Sitting
from zikao.catalog.rules import SLOT_LABELS
from zikao.core import clock
from zikao.core.errors import DomainError, NotFound
from zikao.office.access import office_view, staff_actor
from zikao.office.forms_catalog import (
    DATETIME_FORMAT,
    ApplyForm,
    CourseForm,
    CourseSearchForm,
    MajorForm,
    MajorSearchForm,
    PlanUploadForm,
    SchoolForm,
    SearchForm,
    SittingForm,
    TimetableEntryForm,
    TimetableUploadForm,
    add_domain_error,
)

PAGE_SIZE = 50


def _reraise_access(exc: DomainError) -> None:
    """Permission and not-found refusals go to the gate's 403 / 404 pages, not into the form."""
    if isinstance(exc, PermissionDenied | NotFound):
        raise exc


def _page(request: HttpRequest, queryset):
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def _refused(request: HttpRequest, exc: DomainError) -> None:
    _reraise_access(exc)
    messages.error(request, f"{exc.message}({exc.code})")


# --- home ----------------------------------------------------------------------------------------


@office_view(Perm.CATALOG_VIEW)
def home(request: HttpRequest) -> HttpResponse:
    counts = {
        "courses": Course.objects.count(),
        "schools": School.objects.count(),
        "majors": Major.objects.count(),
        "plans": Plan.objects.count(),
        "sittings": Sitting.objects.count(),
    }
    return render(
        request,
        "office/catalog/home.html",
        {"counts": counts, "sittings": selectors.sittings_list()[:4]},
    )


# --- courses -------------------------------------------------------------------------------------


@office_view(Perm.CATALOG_VIEW)
def courses(request: HttpRequest) -> HttpResponse:
    form = CourseSearchForm(request.GET or None)
    q, kind = "", ""
    if form.is_valid():
        q, kind = form.cleaned_data["q"], form.cleaned_data["kind"]
    page, query = _page(request, selectors.courses_search(q=q, kind=kind))
    return render(request, "office/catalog/courses.html", {"form": form, "page": page, "query": query})


@office_view(Perm.CATALOG_VIEW)
def course(request: HttpRequest, code: str) -> HttpResponse:
    obj = selectors.course_get(code)
    return render(
        request,
        "office/catalog/course.html",
        {
            "course": obj,
            "plans": [(plan, selectors.plan_label(plan)) for plan in selectors.course_plans(obj)],
            "usage": services.usage_text(services.usage_of(obj)),
        },
    )


@office_view(Perm.CATALOG_CHANGE)
def course_new(request: HttpRequest) -> HttpResponse:
    form = CourseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.course_save(actor=staff_actor(request), **form.cleaned_data)
        except DomainError as exc:
            _reraise_access(exc)
            add_domain_error(form, exc)
        else:
            messages.success(request, _("已新增课程 %(course)s。") % {"course": created})
            return redirect("office:catalog_course", code=created.code)
    return render(request, "office/catalog/course_form.html", {"form": form, "course": None})


@office_view(Perm.CATALOG_CHANGE)
def course_edit(request: HttpRequest, code: str) -> HttpResponse:
    obj = selectors.course_get(code)
    initial = {"code": obj.code, "name": obj.name, "credits": obj.credits, "kind": obj.kind}
    form = CourseForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.course_save(actor=staff_actor(request), course=obj, **form.cleaned_data)
        except DomainError as exc:
            _reraise_access(exc)
            add_domain_error(form, exc)
        else:
            messages.success(request, _("已保存课程 %(code)s。") % {"code": obj.code})
            return redirect("office:catalog_course", code=obj.code)
    return render(request, "office/catalog/course_form.html", {"form": form, "course": obj})


@office_view(Perm.CATALOG_CHANGE)
@require_POST
def course_delete(request: HttpRequest, code: str) -> HttpResponse:
    obj = selectors.course_get(code)
    try:
        services.course_delete(actor=staff_actor(request), course=obj)
    except DomainError as exc:
        _refused(request, exc)
        return redirect("office:catalog_course", code=code)
    messages.success(request, _("已删除课程 %(code)s。") % {"code": code})
    return redirect("office:catalog_courses")


# --- schools -------------------------------------------------------------------------------------


@office_view(Perm.CATALOG_VIEW)
def schools(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    page, query = _page(request, selectors.schools_search(q=q))
    return render(request, "office/catalog/schools.html", {"form": form, "page": page, "query": query})


@office_view(Perm.CATALOG_CHANGE)
def school_new(request: HttpRequest) -> HttpResponse:
    return _school_form(request, None)


@office_view(Perm.CATALOG_CHANGE)
def school_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _school_form(request, selectors.school_get(pk))


def _school_form(request: HttpRequest, school: School | None) -> HttpResponse:
    initial = {"code": school.code, "name": school.name} if school is not None else None
    form = SchoolForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.school_save(actor=staff_actor(request), school=school, **form.cleaned_data)
        except DomainError as exc:
            _reraise_access(exc)
            add_domain_error(form, exc)
        else:
            messages.success(request, _("已保存主考学校 %(name)s。") % {"name": saved.name})
            return redirect("office:catalog_schools")
    return render(request, "office/catalog/school_form.html", {"form": form, "school": school})


@office_view(Perm.CATALOG_CHANGE)
@require_POST
def school_delete(request: HttpRequest, pk: int) -> HttpResponse:
    school = selectors.school_get(pk)
    try:
        services.school_delete(actor=staff_actor(request), school=school)
    except DomainError as exc:
        _refused(request, exc)
        return redirect("office:catalog_school_edit", pk=pk)
    messages.success(request, _("已删除主考学校 %(name)s。") % {"name": school.name})
    return redirect("office:catalog_schools")


# --- majors --------------------------------------------------------------------------------------


@office_view(Perm.CATALOG_VIEW)
def majors(request: HttpRequest) -> HttpResponse:
    form = MajorSearchForm(request.GET or None)
    q, level = "", ""
    if form.is_valid():
        q, level = form.cleaned_data["q"], form.cleaned_data["level"]
    page, query = _page(request, selectors.majors_search(q=q, level=level))
    return render(request, "office/catalog/majors.html", {"form": form, "page": page, "query": query})


@office_view(Perm.CATALOG_VIEW)
def major(request: HttpRequest, pk: int) -> HttpResponse:
    obj = selectors.major_get(pk)
    plans = obj.plans.order_by("-version")
    return render(request, "office/catalog/major.html", {"major": obj, "plans": plans})


@office_view(Perm.CATALOG_CHANGE)
def major_new(request: HttpRequest) -> HttpResponse:
    return _major_form(request, None)


@office_view(Perm.CATALOG_CHANGE)
def major_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _major_form(request, selectors.major_get(pk))


def _major_form(request: HttpRequest, major: Major | None) -> HttpResponse:
    initial = None
    if major is not None:
        initial = {
            "code": major.code,
            "name": major.name,
            "level": major.level,
            "school": major.school,
            "province_code": major.province_code,
            "restricted": major.restricted,
        }
    form = MajorForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.major_save(actor=staff_actor(request), major=major, **form.cleaned_data)
        except DomainError as exc:
            _reraise_access(exc)
            add_domain_error(form, exc)
        else:
            messages.success(request, _("已保存专业 %(major)s。") % {"major": saved})
            return redirect("office:catalog_major", pk=saved.pk)
    return render(request, "office/catalog/major_form.html", {"form": form, "major": major})


@office_view(Perm.CATALOG_CHANGE)
@require_POST
def major_delete(request: HttpRequest, pk: int) -> HttpResponse:
    obj = selectors.major_get(pk)
    try:
        services.major_delete(actor=staff_actor(request), major=obj)
    except DomainError as exc:
        _refused(request, exc)
        return redirect("office:catalog_major", pk=pk)
    messages.success(request, _("已删除专业 %(code)s。") % {"code": obj.code})
    return redirect("office:catalog_majors")


# --- plans ---------------------------------------------------------------------------------------


@office_view(Perm.CATALOG_VIEW)
def plans(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    page, query = _page(request, selectors.plans_search(q=q))
    uploads = selectors.plan_uploads_recent() if Perm.CATALOG_CHANGE in request.office_perms else []
    return render(
        request,
        "office/catalog/plans.html",
        {"form": form, "page": page, "query": query, "uploads": uploads},
    )


@office_view(Perm.CATALOG_VIEW)
def plan(request: HttpRequest, pk: int) -> HttpResponse:
    obj = selectors.plan_get(pk)
    return render(
        request,
        "office/catalog/plan.html",
        {
            "plan": obj,
            "label": selectors.plan_label(obj),
            "items": selectors.plan_items(obj),
            "groups": obj.spec.get("groups", []),
            "paths": obj.spec.get("paths", []),
        },
    )


@office_view(Perm.CATALOG_VIEW)
def plan_source(request: HttpRequest, pk: int) -> HttpResponse:
    """The plan file as imported (the kept source text)."""
    obj = selectors.plan_get(pk)
    response = HttpResponse(obj.source_text, content_type="text/plain; charset=utf-8")
    name = f"{obj.major.code}_{obj.major.level}_{obj.version}.toml"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@office_view(Perm.CATALOG_CHANGE)
def plan_upload(request: HttpRequest) -> HttpResponse:
    form = PlanUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        file = form.cleaned_data["file"]
        try:
            upload = services.plan_upload_create(
                actor=staff_actor(request), content=_read_upload(file), source_name=file.name
            )
        except DomainError as exc:
            _reraise_access(exc)
            add_domain_error(form, exc)
        else:
            return redirect("office:catalog_plan_preview", pk=upload.pk)
    return render(request, "office/catalog/plan_upload.html", {"form": form})


def _read_upload(file) -> bytes:
    """At most one byte over the largest accepted size: the service then refuses it as too large."""
    limit = max(services.PLAN_FILE_MAX_BYTES, services.TIMETABLE_FILE_MAX_BYTES) + 1
    return file.read(limit)


@office_view(Perm.CATALOG_CHANGE)
def plan_preview(request: HttpRequest, pk: int) -> HttpResponse:
    upload = selectors.upload_get(pk, kind=CatalogUpload.Kind.PLAN)
    preview = selectors.plan_upload_preview(upload)
    form = ApplyForm(initial={"base": preview.base})
    return render(request, "office/catalog/plan_preview.html", {"preview": preview, "form": form})


@office_view(Perm.CATALOG_CHANGE)
@require_POST
def plan_apply(request: HttpRequest, pk: int) -> HttpResponse:
    upload = selectors.upload_get(pk, kind=CatalogUpload.Kind.PLAN)
    form = ApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请求无效,请重新预览。"))
        return redirect("office:catalog_plan_preview", pk=pk)
    try:
        result = services.plan_upload_apply(
            actor=staff_actor(request), upload=upload, base=form.cleaned_data["base"]
        )
    except DomainError as exc:
        _refused(request, exc)
        return redirect("office:catalog_plan_preview", pk=pk)
    if result.status == "unchanged":
        messages.info(request, _("%(title)s 与已导入的内容完全相同,未作任何更改。") % {"title": result.title})
    elif result.status == "created":
        messages.success(request, _("已导入 %(title)s。") % {"title": result.title})
    else:
        messages.success(request, _("已更新 %(title)s。") % {"title": result.title})
    if isinstance(result.subject, Plan):
        return redirect("office:catalog_plan", pk=result.subject.pk)
    return redirect("office:catalog_plans")


# --- sittings ------------------------------------------------------------------------------------


@office_view(Perm.CATALOG_VIEW)
def sittings(request: HttpRequest) -> HttpResponse:
    page, query = _page(request, selectors.sittings_list().prefetch_related("slots"))
    rows = [(s, selectors.sitting_status(s)) for s in page]
    return render(request, "office/catalog/sittings.html", {"page": page, "rows": rows, "query": query})


@office_view(Perm.CATALOG_VIEW)
def sitting(request: HttpRequest, label: str) -> HttpResponse:
    obj = selectors.sitting_get(label)
    return render(
        request,
        "office/catalog/sitting.html",
        {
            "sitting": obj,
            "status": selectors.sitting_status(obj),
            "slots": [(slot, SLOT_LABELS.get(slot.code, slot.code)) for slot in selectors.sitting_slots(obj)],
            "course_count": obj.timetable.count(),
        },
    )


def _local(value):
    return timezone.localtime(value).strftime(DATETIME_FORMAT) if value is not None else None


@office_view(Perm.CATALOG_CHANGE)
def sitting_new(request: HttpRequest) -> HttpResponse:
    form = SittingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = _save_sitting(request, form, None)
        if created is not None:
            messages.success(request, _("已新增考次 %(label)s。") % {"label": created.label})
            return redirect("office:catalog_sitting", label=created.label)
    return render(request, "office/catalog/sitting_form.html", {"form": form, "sitting": None})


@office_view(Perm.CATALOG_CHANGE)
def sitting_edit(request: HttpRequest, label: str) -> HttpResponse:
    obj = selectors.sitting_get(label)
    now = clock.now()
    status = selectors.sitting_status(obj, now)
    initial = {
        "label": obj.label,
        "first_day": obj.first_day,
        "entry_opens_at": _local(obj.entry_opens_at),
        "entry_closes_at": _local(obj.entry_closes_at),
        "release_at": _local(obj.release_at),
        "review_closes_at": _local(obj.review_closes_at),
        "review_from_policy": False,
    }
    for slot in obj.slots.all():
        initial[f"{slot.code.lower()}_starts_at"] = _local(slot.starts_at)
        initial[f"{slot.code.lower()}_ends_at"] = _local(slot.ends_at)
    form = SittingForm(
        request.POST or None,
        initial=initial,
        editing=True,
        slots_locked=status in ("examined", "released"),
        entry_opened=obj.entry_opens_at is not None and obj.entry_opens_at <= now,
        entry_closed=obj.entry_closes_at is not None and obj.entry_closes_at <= now,
        release_locked=status == "released",
    )
    if request.method == "POST" and form.is_valid():
        saved = _save_sitting(request, form, obj)
        if saved is not None:
            messages.success(request, _("已保存考次 %(label)s。") % {"label": saved.label})
            return redirect("office:catalog_sitting", label=saved.label)
    return render(request, "office/catalog/sitting_form.html", {"form": form, "sitting": obj})


def _save_sitting(request: HttpRequest, form: SittingForm, sitting: Sitting | None) -> Sitting | None:
    data = form.cleaned_data
    try:
        return services.sitting_save(
            actor=staff_actor(request),
            sitting=sitting,
            label=data["label"],
            first_day=data["first_day"],
            slots=form.slots(),
            entry_opens_at=data["entry_opens_at"],
            entry_closes_at=data["entry_closes_at"],
            release_at=data["release_at"],
            review_closes_at=data["review_closes_at"],
            review_from_policy=data["review_from_policy"],
        )
    except DomainError as exc:
        _reraise_access(exc)
        add_domain_error(form, exc)
        return None


# --- timetable -----------------------------------------------------------------------------------


@office_view(Perm.CATALOG_VIEW)
def timetable(request: HttpRequest, label: str) -> HttpResponse:
    obj = selectors.sitting_get(label)
    slots = selectors.sitting_slots(obj)
    entries = list(selectors.timetable_of(obj))
    by_slot = [
        (slot, SLOT_LABELS.get(slot.code, slot.code), [e for e in entries if e.slot_id == slot.pk])
        for slot in slots
    ]
    can_change = Perm.CATALOG_CHANGE in request.office_perms
    return render(
        request,
        "office/catalog/timetable.html",
        {
            "sitting": obj,
            "by_slot": by_slot,
            "count": len(entries),
            "clashes": selectors.timetable_clash_report(obj),
            "names": {e.course.code: e.course.name for e in entries},
            "locked": selectors.timetable_started(obj),
            "form": TimetableEntryForm() if can_change else None,
            "uploads": selectors.timetable_uploads_recent(obj) if can_change else [],
        },
    )


@office_view(Perm.CATALOG_CHANGE)
@require_POST
def timetable_add(request: HttpRequest, label: str) -> HttpResponse:
    obj = selectors.sitting_get(label)
    form = TimetableEntryForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写课程代码并选择时段。"))
        return redirect("office:catalog_timetable", label=label)
    try:
        services.timetable_entry_save(
            actor=staff_actor(request),
            sitting=obj,
            course_code=form.cleaned_data["course_code"],
            slot_code=form.cleaned_data["slot"],
        )
    except DomainError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request, _("已将课程 %(code)s 加入时间表。") % {"code": form.cleaned_data["course_code"]}
        )
    return redirect("office:catalog_timetable", label=label)


@office_view(Perm.CATALOG_CHANGE)
def timetable_entry_edit(request: HttpRequest, label: str, pk: int) -> HttpResponse:
    obj = selectors.sitting_get(label)
    entry = selectors.timetable_entry_get(obj, pk)
    form = TimetableEntryForm(
        request.POST or None,
        initial={"course_code": entry.course.code, "slot": entry.slot.code},
        editing=True,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.timetable_entry_save(
                actor=staff_actor(request),
                sitting=obj,
                course_code=entry.course.code,
                slot_code=form.cleaned_data["slot"],
                entry=entry,
            )
        except DomainError as exc:
            _reraise_access(exc)
            add_domain_error(form, exc)
        else:
            messages.success(request, _("已保存课程 %(code)s 的时段。") % {"code": entry.course.code})
            return redirect("office:catalog_timetable", label=label)
    return render(
        request, "office/catalog/timetable_entry_form.html", {"form": form, "sitting": obj, "entry": entry}
    )


@office_view(Perm.CATALOG_CHANGE)
@require_POST
def timetable_entry_delete(request: HttpRequest, label: str, pk: int) -> HttpResponse:
    obj = selectors.sitting_get(label)
    entry = selectors.timetable_entry_get(obj, pk)
    try:
        services.timetable_entry_delete(actor=staff_actor(request), entry=entry)
    except DomainError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("已将课程 %(code)s 移出时间表。") % {"code": entry.course.code})
    return redirect("office:catalog_timetable", label=label)


@office_view(Perm.CATALOG_CHANGE)
def timetable_import(request: HttpRequest, label: str) -> HttpResponse:
    obj = selectors.sitting_get(label)
    form = TimetableUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        file = form.cleaned_data["file"]
        try:
            upload = services.timetable_upload_create(
                actor=staff_actor(request), sitting=obj, content=_read_upload(file), source_name=file.name
            )
        except DomainError as exc:
            _reraise_access(exc)
            add_domain_error(form, exc)
        else:
            return redirect("office:catalog_timetable_report", label=label, pk=upload.pk)
    return render(request, "office/catalog/timetable_import.html", {"form": form, "sitting": obj})


@office_view(Perm.CATALOG_CHANGE)
def timetable_report(request: HttpRequest, label: str, pk: int) -> HttpResponse:
    obj = selectors.sitting_get(label)
    upload = selectors.upload_get(pk, kind=CatalogUpload.Kind.TIMETABLE, sitting=obj)
    report = selectors.timetable_report(upload)
    return render(
        request,
        "office/catalog/timetable_report.html",
        {
            "sitting": obj,
            "report": report,
            "form": ApplyForm(initial={"base": report.base}),
            "slot_labels": SLOT_LABELS,
        },
    )


@office_view(Perm.CATALOG_CHANGE)
@require_POST
def timetable_apply(request: HttpRequest, label: str, pk: int) -> HttpResponse:
    obj = selectors.sitting_get(label)
    upload = selectors.upload_get(pk, kind=CatalogUpload.Kind.TIMETABLE, sitting=obj)
    form = ApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请求无效,请重新检查。"))
        return redirect("office:catalog_timetable_report", label=label, pk=pk)
    try:
        result = services.timetable_upload_apply(
            actor=staff_actor(request), upload=upload, base=form.cleaned_data["base"]
        )
    except DomainError as exc:
        _refused(request, exc)
        return redirect("office:catalog_timetable_report", label=label, pk=pk)
    messages.success(
        request,
        _("已导入 %(added)d 门课程的时段安排(%(unchanged)d 行与现有安排相同)。")
        % {"added": len(result.added), "unchanged": result.unchanged},
    )
    return redirect("office:catalog_timetable", label=label)
