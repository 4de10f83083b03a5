"""Forms of the office's record administration pages: input shape only; rules live in the services."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from zikao.candidates.models import CandidatePhoto
from zikao.candidates.selectors import SearchKind

_NO_AUTOFILL = {"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}
_candidate_no = RegexValidator(r"^\d{12}$", _("准考证号应为12位数字。"), code="CANDIDATE_NO_INVALID")


class RecordSearchForm(forms.Form):
    q = forms.CharField(
        label=_("准考证号、证件号码或姓名"),
        max_length=50,
        required=False,
        widget=forms.TextInput(attrs={**_NO_AUTOFILL, "type": "search"}),
    )
    by = forms.ChoiceField(
        label=_("查询方式"),
        required=False,
        initial=SearchKind.AUTO,
        choices=[
            (SearchKind.AUTO, _("自动识别")),
            (SearchKind.CANDIDATE_NO, _("准考证号(精确)")),
            (SearchKind.ID_NUMBER, _("证件号码(精确)")),
            (SearchKind.NAME, _("姓名(精确或前缀)")),
        ],
    )


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=_("处理意见(可选)"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RejectForm(forms.Form):
    # Required-ness and length are the service's rule (PROFILE_REQUEST_DECISION_REASON_REQUIRED),
    # so the page shows the service's code and message, not a second wording of the same rule.
    reason = forms.CharField(
        label=_("不予批准的理由"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class MergeForm(forms.Form):
    survivor_no = forms.CharField(
        label=_("保留的准考证号"),
        max_length=12,
        validators=[_candidate_no],
        widget=forms.TextInput(attrs={**_NO_AUTOFILL, "inputmode": "numeric"}),
    )
    closed_no = forms.CharField(
        label=_("撤销(并入)的准考证号"),
        max_length=12,
        validators=[_candidate_no],
        widget=forms.TextInput(attrs={**_NO_AUTOFILL, "inputmode": "numeric"}),
    )


class MergeConfirmForm(MergeForm):
    fingerprint = forms.CharField(max_length=64, widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        label=_("已核对两个考籍的证件原件，确认为同一人，合并后撤销的准考证号不可恢复")
    )


class PhotoForm(forms.Form):
    # Format, size and pixel size are the service's rules (check_photo decodes the file), so the
    # page shows the service's code and message; the field is optional here for the same reason.
    photo = forms.FileField(
        label=_("照片文件(JPEG或PNG，不超过2MB，竖幅，如480×640像素)"),
        required=False,
        allow_empty_file=True,
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    source = forms.ChoiceField(
        label=_("照片来源"), choices=CandidatePhoto.Source.choices, initial=CandidatePhoto.Source.ONSITE
    )
    note = forms.CharField(label=_("说明(可选)"), max_length=200, required=False)
