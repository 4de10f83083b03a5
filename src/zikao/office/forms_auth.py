"""Forms of staff sign-in and staff administration: shape of the input only; services decide."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from zikao.accounts.permissions import ROLE_CHOICES
from zikao.accounts.selectors_staff import STATUS_FILTERS


class StaffLoginForm(forms.Form):
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("密码"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TotpForm(forms.Form):
    token = forms.RegexField(
        label=_("动态验证码"),
        regex=r"^\d{6}$",
        max_length=6,
        error_messages={"invalid": _("请输入身份验证器中显示的6位数字。")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]{6}"}
        ),
    )

    def clean_token(self) -> str:
        return self.cleaned_data["token"].strip()

    def full_clean(self) -> None:
        # People type the code with a space in the middle ("123 456"), as the apps show it.
        if self.is_bound and "token" in self.data:
            data = dict(self.data.items())
            data["token"] = "".join(str(self.data.get("token", "")).split())
            self.data = data
        super().full_clean()


class _PasswordPair(forms.Form):
    password1 = forms.CharField(
        label=_("密码"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("至少8位，不能过于简单，不能与用户名或姓名相似，不能全为数字。"),
    )
    password2 = forms.CharField(
        label=_("再次输入密码"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("两次输入的密码不一致。"))
        return data


class StaffCreateForm(_PasswordPair):
    field_order = ["username", "name", "email", "office", "roles", "password1", "password2"]

    username = forms.CharField(
        label=_("用户名"),
        max_length=32,
        help_text=_("3至32位英文字母、数字或 . _ -，用于登录，创建后不能修改。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    name = forms.CharField(label=_("姓名"), max_length=30)
    email = forms.EmailField(label=_("电子邮箱（选填）"), required=False)
    office = forms.ChoiceField(label=_("所属考办"))
    roles = forms.MultipleChoiceField(
        label=_("岗位角色"), choices=ROLE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, offices=(), **kwargs):
        super().__init__(*args, **kwargs)
        office = cast(forms.ChoiceField, self.fields["office"])
        office.choices = [(str(o.pk), f"{o.name}（{o.get_level_display()}）") for o in offices]


class StaffRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        label=_("岗位角色"), choices=ROLE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )


class StaffPasswordForm(_PasswordPair):
    pass


class StaffFilterForm(forms.Form):
    q = forms.CharField(label=_("用户名或姓名"), max_length=50, required=False)
    office = forms.TypedChoiceField(label=_("考办"), required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(label=_("状态"), required=False)

    STATUS_LABELS = {
        "active": _("启用"),
        "inactive": _("已停用"),
        "locked": _("已锁定"),
        "no_totp": _("未绑定动态口令"),
    }

    def __init__(self, *args, offices=(), **kwargs):
        super().__init__(*args, **kwargs)
        office = cast(forms.ChoiceField, self.fields["office"])
        office.choices = [("", _("全部")), *[(str(o.pk), o.name) for o in offices]]
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            ("", _("全部")),
            *[(s, self.STATUS_LABELS[s]) for s in STATUS_FILTERS],
        ]
