"""Forms of the portal's sign-in and profile pages: input shape only; rules live in the services."""

from __future__ import annotations

from captcha.fields import CaptchaField
from django import forms
from django.utils.translation import gettext_lazy as _

from zikao.candidates.models import ProfileChangeRequest


def _text(
    label, *, max_length: int, autocomplete: str = "off", inputmode: str | None = None, required: bool = True
):
    attrs = {"autocomplete": autocomplete, "autocapitalize": "off", "spellcheck": "false"}
    if inputmode:
        attrs["inputmode"] = inputmode
    return forms.CharField(
        label=label, max_length=max_length, required=required, widget=forms.TextInput(attrs=attrs)
    )


def _password(label, autocomplete: str):
    return forms.CharField(
        label=label,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


class CaptchaMixin(forms.Form):
    captcha = CaptchaField(
        label=_("验证码"),
        error_messages={"invalid": _("验证码不正确，请重新输入。"), "required": _("请输入验证码。")},
    )


class LookupForm(CaptchaMixin):
    id_number = _text(_("证件号码"), max_length=32)
    name = _text(_("姓名"), max_length=50, autocomplete="name")
    pre_registration = forms.BooleanField(label=_("查询报名号（尚未确认的网上报名）"), required=False)
    field_order = ["id_number", "name", "pre_registration", "captcha"]


class LoginForm(CaptchaMixin):
    identifier = _text(_("准考证号或证件号码"), max_length=32, autocomplete="username")
    password = _password(_("密码"), "current-password")
    field_order = ["identifier", "password", "captcha"]


class NewPasswordForm(forms.Form):
    new_password = _password(_("新密码"), "new-password")
    new_password2 = _password(_("再次输入新密码"), "new-password")

    def clean(self):
        data = super().clean() or {}
        if (
            data.get("new_password")
            and data.get("new_password2")
            and data["new_password"] != data["new_password2"]
        ):
            self.add_error("new_password2", _("两次输入的新密码不一致。"))
        return data


class PasswordChangeForm(NewPasswordForm):
    current_password = _password(_("当前密码"), "current-password")
    field_order = ["current_password", "new_password", "new_password2"]


class ResetStartForm(CaptchaMixin):
    candidate_no = _text(_("准考证号"), max_length=20, inputmode="numeric")
    id_number = _text(_("证件号码"), max_length=32)
    name = _text(_("姓名"), max_length=50, autocomplete="name")
    field_order = ["candidate_no", "id_number", "name", "captcha"]


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("短信验证码"),
        regex=r"^\s*\d{6}\s*$",
        max_length=10,
        error_messages={"invalid": _("验证码为6位数字。")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ContactForm(forms.Form):
    address = forms.CharField(
        label=_("通讯地址"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    work_unit = forms.CharField(
        label=_("工作单位"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )


class PhoneForm(forms.Form):
    new_phone = _text(_("新手机号码"), max_length=20, autocomplete="tel", inputmode="tel")


class ProfileRequestForm(forms.Form):
    field = forms.ChoiceField(label=_("更正项目"), choices=ProfileChangeRequest.Field.choices)
    new_value = forms.CharField(label=_("更正为"), max_length=50)
    reason = forms.CharField(label=_("理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
