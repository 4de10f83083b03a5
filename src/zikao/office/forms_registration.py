"""Forms of the office registration confirmation pages: input shape only; rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from zikao.candidates.models import Registration


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=Registration.Status.choices,
        initial=Registration.Status.SUBMITTED,
    )
    q = forms.CharField(
        label=_("报名号、证件号码或姓名"),
        max_length=50,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class ConfirmForm(forms.Form):
    identity_checked = forms.BooleanField(
        label=_("已核对身份证件原件与照片、报名信息一致"),
        error_messages={"required": _("请核对身份证件后勾选。")},
    )
    work_proof_checked = forms.BooleanField(label=_("已核验从业证明(限制报考专业)"), required=False)
    note = forms.CharField(
        label=_("处理意见(可选)"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, restricted: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not restricted:
            del self.fields["work_proof_checked"]


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("不予确认的原因(考生可见)"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
