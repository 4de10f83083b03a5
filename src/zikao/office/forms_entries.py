"""Forms of the office's entry-window pages (policy, sitting settings, seat counters, entry and
payment lists). They only parse input; the services refuse with stable codes, which
`add_refusal` puts next to the right field."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from zikao.catalog.models import Sitting
from zikao.catalog.rules import SLOT_LABELS
from zikao.catalog.services import POLICY_FEE_LIMIT_FEN, POLICY_MAX_COURSES_LIMIT
from zikao.core.errors import DomainError
from zikao.entries import office_selectors as sel
from zikao.entries.settings_services import HOLD_MINUTES_MAX, HOLD_MINUTES_MIN

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
candidate_no_validator = RegexValidator(r"^\d{12}$", _("准考证号应为12位数字。"))


def add_refusal(form: forms.Form, exc: DomainError, rename: dict[str, str] | None = None) -> None:
    """Show a service's refusal on the form: each listed problem at its field (renamed to the
    form's field where they differ), else at the first field named in `fields`, else on top."""
    rename = rename or {}
    problems = exc.fields.get("problems") if isinstance(exc.fields, dict) else None
    if problems and all(isinstance(p, dict) and "field" in p for p in problems):
        for problem in problems:
            name = rename.get(problem.get("field") or "", problem.get("field") or "")
            form.add_error(name if name in form.fields else None, f"{problem['message']}({problem['code']})")
        return
    names = [rename.get(key, key) for key in exc.fields]
    target = next((name for name in names if name in form.fields), None)
    form.add_error(target, f"{exc.message}({exc.code})")


class PolicyForm(forms.Form):
    """Entry policy: courses per sitting, fee per course entered in yuan (stored in fen)."""

    max_courses_per_sitting = forms.IntegerField(
        label=_("每次报考科目上限"), min_value=1, max_value=POLICY_MAX_COURSES_LIMIT
    )
    fee_yuan = forms.DecimalField(
        label=_("每科报考费(元)"),
        min_value=Decimal("0"),
        max_value=Decimal(POLICY_FEE_LIMIT_FEN) / 100,
        max_digits=7,
        decimal_places=2,
        help_text=_("保留两位小数,如 45.00;只影响修改后新提交的报考。"),
    )

    def fee_fen(self) -> int:
        return int(self.cleaned_data["fee_yuan"] * 100)


class SittingSettingsForm(forms.Form):
    payment_hold_minutes = forms.IntegerField(
        label=_("缴费保留时长(分钟)"),
        min_value=HOLD_MINUTES_MIN,
        max_value=HOLD_MINUTES_MAX,
        help_text=_("考生报考后须在此时长内缴费,逾期座位释放;只影响修改后新提交的报考。"),
    )
    tickets_open_at = forms.DateTimeField(
        label=_("准考证开始打印时间"),
        required=False,
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
        help_text=_("留空表示暂不开放打印;须在报名截止之后、首个考试日之前。"),
    )


class CapacitySetForm(forms.Form):
    area = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    slot = forms.CharField(widget=forms.HiddenInput, max_length=8)
    capacity = forms.IntegerField(label=_("座位数"), min_value=0, max_value=1_000_000)


class CapacityRebuildForm(forms.Form):
    area = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)


class _SlotChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return str(SLOT_LABELS.get(obj.code, obj.code))


class _CourseChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} {obj.name}"


class EntryFilterForm(forms.Form):
    """Filters of the entry list (GET). Areas are only those in the user's scope, so an area
    out of scope is refused like one that does not exist."""

    area: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None, required=False, label=_("考区"), to_field_name="region_code", empty_label=_("全部")
    )
    course = _CourseChoice(
        queryset=None, required=False, label=_("课程"), to_field_name="code", empty_label=_("全部")
    )
    slot = _SlotChoice(
        queryset=None, required=False, label=_("时段"), to_field_name="code", empty_label=_("全部")
    )
    status = forms.ChoiceField(
        required=False, label=_("状态"), choices=[("", _("全部")), *sel.ENTRY_STATE_CHOICES]
    )
    candidate_no = forms.CharField(
        required=False, label=_("准考证号"), max_length=12, validators=[candidate_no_validator]
    )

    def __init__(self, *args, user, sitting: Sitting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = sel.areas_in_scope(user)  # type: ignore[attr-defined]
        self.fields["course"].queryset = sel.sitting_courses(sitting)  # type: ignore[attr-defined]
        self.fields["slot"].queryset = sitting.slots.order_by("starts_at")  # type: ignore[attr-defined]

    def to_filter(self) -> sel.EntryFilter:
        data = self.cleaned_data if self.is_bound else {}
        return sel.EntryFilter(
            area=data.get("area"),
            course=data.get("course"),
            slot=data.get("slot"),
            status=data.get("status") or "",
            candidate_no=data.get("candidate_no") or "",
        )


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, label=_("状态"), choices=[("", _("全部")), *sel.ORDER_STATE_CHOICES]
    )
    candidate_no = forms.CharField(
        required=False, label=_("准考证号"), max_length=12, validators=[candidate_no_validator]
    )

    def to_filter(self) -> sel.OrderFilter:
        data = self.cleaned_data if self.is_bound else {}
        return sel.OrderFilter(status=data.get("status") or "", candidate_no=data.get("candidate_no") or "")
