"""Forms of the office score pages (publication, withholding, preview, corrections).

They only parse input; every rule is checked by the services in `scores.publication` and
`scores.services`, whose refusals the views put next to the field they concern.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from zikao.scores.models import Grade, Score

DATETIME_WIDGET_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _datetime_field(label) -> forms.DateTimeField:
    """A local (Asia/Shanghai) date and time to the second, as a browser's datetime-local input."""
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "1"}, format=DATETIME_WIDGET_FORMAT
        ),
        error_messages={"invalid": _("请输入有效的日期和时间。"), "required": _("请填写日期和时间。")},
    )


def _candidate_no_field() -> forms.CharField:
    return forms.CharField(
        label=_("准考证号"),
        max_length=12,
        min_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "pattern": "[0-9]{12}"}),
        error_messages={
            "required": _("请填写准考证号。"),
            "min_length": _("准考证号为12位数字。"),
            "max_length": _("准考证号为12位数字。"),
        },
    )


def _clean_digits(value: str) -> str:
    value = (value or "").strip()
    if not value.isdigit():
        raise forms.ValidationError(_("准考证号为12位数字。"), code="invalid")
    return value


class RescheduleForm(forms.Form):
    release_at = _datetime_field(_("新的发布时间"))


class PublishEarlyForm(forms.Form):
    """Two deliberate acts: tick the box and type the sitting's label."""

    confirm = forms.BooleanField(
        label=_("我确认立即向考生发布本考次全部成绩（暂缓发布的考生除外），发布后不能撤回。"),
        error_messages={"required": _("请勾选确认。")},
    )
    label = forms.CharField(label=_("请输入考次代码以确认"), max_length=6)

    def __init__(self, *args, sitting_label: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.sitting_label = sitting_label

    def clean_label(self) -> str:
        value = (self.cleaned_data.get("label") or "").strip()
        if value != self.sitting_label:
            raise forms.ValidationError(_("输入的考次代码与本考次不一致。"), code="mismatch")
        return value


class WithholdForm(forms.Form):
    candidate_no = _candidate_no_field()
    reason = forms.CharField(
        label=_("暂缓发布原因"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写暂缓发布的原因。")},
    )

    def clean_candidate_no(self) -> str:
        return _clean_digits(self.cleaned_data.get("candidate_no", ""))


class WithholdingReleaseForm(forms.Form):
    note = forms.CharField(
        label=_("解除说明"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写解除暂缓发布的说明。")},
    )


class PreviewForm(forms.Form):
    candidate_no = _candidate_no_field()
    at = _datetime_field(_("预览时间"))

    def clean_candidate_no(self) -> str:
        return _clean_digits(self.cleaned_data.get("candidate_no", ""))


class CandidateLookupForm(forms.Form):
    candidate_no = _candidate_no_field()

    def clean_candidate_no(self) -> str:
        return _clean_digits(self.cleaned_data.get("candidate_no", ""))


STATUS_CHOICES = [
    (Score.Status.VALID, _("有效")),
    (Score.Status.ABSENT, _("缺考")),
    (Score.Status.VOID, _("违规作废")),
]


class CorrectionRequestForm(forms.Form):
    new_value = forms.IntegerField(
        label=_("更正后的分数"),
        required=False,
        min_value=0,
        max_value=100,
        error_messages={
            "invalid": _("分数应为0到100之间的整数。"),
            "min_value": _("分数应在0到100之间。"),
            "max_value": _("分数应在0到100之间。"),
        },
    )
    new_grade = forms.ChoiceField(
        label=_("更正后的等级"),
        required=False,
        choices=[("", _("（无等级）")), *Grade.choices],
    )
    new_status = forms.ChoiceField(
        label=_("更正后的状态"), choices=STATUS_CHOICES, initial=Score.Status.VALID
    )
    reason = forms.CharField(
        label=_("更正理由"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写更正理由。")},
    )
    evidence_note = forms.CharField(
        label=_("证明材料说明"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("如复查记录编号、阅卷组意见等；与证明材料文件至少提供一项。"),
    )
    evidence_file = forms.FileField(
        label=_("证明材料文件"),
        required=False,
        help_text=_("PDF、PNG或JPEG，不超过10MB。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )


class DecisionForm(forms.Form):
    """Approve (note optional), reject (note required by the service), withdraw (optional)."""

    note = forms.CharField(
        label=_("审核意见"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
