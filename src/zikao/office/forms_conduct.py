"""Forms of the office's violation pages (考试违规). They parse input only; the rules live in
`conduct.rules` / `conduct.services`, whose errors `add_domain_error` puts next to the field."""

from __future__ import annotations

from typing import cast

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from zikao.conduct import selectors
from zikao.conduct.models import Violation
from zikao.core.errors import DomainError

candidate_no_field = RegexValidator(r"^\d{12}$", _("准考证号应为12位数字。"))

STATUS_CHOICES = [
    ("", _("全部")),
    (selectors.STATUS_ACTIVE, _("有效")),
    (selectors.STATUS_APPEALING, _("复核中")),
    (selectors.STATUS_REDUCED, _("经复核减轻")),
    (selectors.STATUS_REVOKED, _("已撤销")),
]
YEARS_CHOICES = [("", _("按违规情形默认")), ("1", _("1年")), ("2", _("2年")), ("3", _("3年"))]
OUTCOME_CHOICES = [
    ("upheld", _("维持原处理")),
    ("reduced", _("减轻处理")),
    ("revoked", _("撤销处理")),
]

# Error fields reported by the services → the form field that shows them.
FIELD_ALIASES = {"received_on": "decision_received_on", "penalty": "kind"}


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a domain refusal on the form: next to its field when the form has it, else on top."""
    text = f"{exc.message}（{exc.code}）"
    for key in exc.fields:
        name = FIELD_ALIASES.get(key, key)
        if name in form.fields and not isinstance(form.fields[name].widget, forms.HiddenInput):
            form.add_error(name, text)
            return
    form.add_error(None, text)


def _sitting_choices() -> list[tuple[str, str]]:
    return [(s.label, s.label) for s in selectors.sittings_for_choice()]


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ViolationFilterForm(forms.Form):
    """Filters of the list (GET). Invalid values are reported, never a 500."""

    sitting = forms.ChoiceField(label=_("考次"), required=False)
    kind = forms.ChoiceField(label=_("违规情形"), required=False)
    status = forms.ChoiceField(label=_("状态"), required=False, choices=STATUS_CHOICES)
    candidate_no = forms.CharField(
        label=_("准考证号"), required=False, max_length=12, validators=[candidate_no_field]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["sitting"]).choices = [("", _("全部")), *_sitting_choices()]
        cast(forms.ChoiceField, self.fields["kind"]).choices = [("", _("全部")), *Violation.Kind.choices]


class CandidateLookupForm(forms.Form):
    """Step 1 of recording: which candidate, which sitting."""

    candidate_no = forms.CharField(label=_("准考证号"), max_length=12, validators=[candidate_no_field])
    sitting = forms.ChoiceField(label=_("考次"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["sitting"]).choices = [("", _("请选择")), *_sitting_choices()]


class ViolationRecordForm(forms.Form):
    """Step 2: the decision. `courses` are the candidate's courses of that sitting."""

    candidate_no = forms.CharField(widget=forms.HiddenInput, max_length=12, validators=[candidate_no_field])
    sitting = forms.CharField(widget=forms.HiddenInput, max_length=6)
    kind = forms.ChoiceField(label=_("违规情形"), choices=[("", _("请选择")), *Violation.Kind.choices])
    course = forms.TypedChoiceField(
        label=_("违纪科目"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("仅“违纪”需选择科目；作弊类认定当次全部科目成绩无效，不选科目。"),
    )
    suspension_years = forms.TypedChoiceField(
        label=_("停考年限"),
        required=False,
        choices=YEARS_CHOICES,
        coerce=int,
        empty_value=None,
        help_text=_(
            "仅“严重作弊”（停考自学考试，默认1年）和“组织作弊/替考”（停考各类国家教育考试，默认3年）。"
        ),
    )
    description = forms.CharField(
        label=_("违规事实"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )
    evidence_note = forms.CharField(
        label=_("证据材料"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        help_text=_("如监考记录、违规物品、视频编号；仅考办可见。"),
    )

    def __init__(self, *args, courses=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["course"]).choices = [("", _("不指定（当次全部科目）")), *courses]


class AppealLodgeForm(forms.Form):
    submitted_on = forms.DateField(label=_("申请日期"), widget=_date_input())
    decision_received_on = forms.DateField(
        label=_("收到处理决定日期"),
        required=False,
        widget=_date_input(),
        help_text=_("不填则按处理决定日期；复核申请须在收到决定之日起15日内提出。"),
    )
    grounds = forms.CharField(label=_("申请理由"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)


class AppealDecideForm(forms.Form):
    outcome = forms.ChoiceField(label=_("复核结论"), choices=OUTCOME_CHOICES, widget=forms.RadioSelect)
    note = forms.CharField(label=_("复核意见"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)
    kind = forms.ChoiceField(
        label=_("减轻后的违规情形"),
        required=False,
        choices=[("", _("不适用")), *Violation.Kind.choices],
        help_text=_("仅“减轻处理”时填写。"),
    )
    course = forms.TypedChoiceField(
        label=_("减轻后的违纪科目"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("减轻为“违纪”时，选择仍然无效的科目，其余科目成绩恢复。"),
    )
    suspension_years = forms.TypedChoiceField(
        label=_("减轻后的停考年限"),
        required=False,
        choices=[("", _("不适用/默认")), ("1", _("1年")), ("2", _("2年")), ("3", _("3年"))],
        coerce=int,
        empty_value=None,
    )

    def __init__(self, *args, courses=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["course"]).choices = [("", _("不适用")), *courses]


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("撤销理由"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)
