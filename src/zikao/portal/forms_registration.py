"""Forms of the online registration (新生报名) pages: input shape only; rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from zikao.candidates.models import PriorEducation, Registration
from zikao.candidates.registration_selectors import registration_areas, registration_majors
from zikao.core.identity import Gender, IdType
from zikao.portal.forms import CaptchaMixin

_PLAIN = {"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.parent.name if obj.parent else ''} {obj.name}".strip()


class MajorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        restricted = _("(须从业证明)") if obj.restricted else ""
        return f"{obj.code} {obj.name}({obj.get_level_display()}){restricted}"


class RegistrationForm(CaptchaMixin):
    id_type = forms.ChoiceField(label=_("证件类型"), choices=IdType.choices, initial=IdType.RESIDENT_ID)
    id_number = forms.CharField(label=_("证件号码"), max_length=32, widget=forms.TextInput(attrs=_PLAIN))
    name = forms.CharField(
        label=_("姓名"), max_length=50, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    gender = forms.ChoiceField(label=_("性别"), choices=Gender.choices)
    birth_date = forms.DateField(
        label=_("出生日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    phone = forms.CharField(
        label=_("手机号码"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    address = forms.CharField(label=_("通讯地址"), max_length=200)
    residence_basis = forms.ChoiceField(
        label=_("户籍或居住证明"), choices=Registration.ResidenceBasis.choices
    )
    household_region = forms.CharField(
        label=_("户籍所在地区码(6位，身份证考生可不填)"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={**_PLAIN, "inputmode": "numeric"}),
    )
    residence_proof = forms.FileField(
        label=_("居住证或社保缴纳证明(非本省户籍必传，PDF/JPEG/PNG，不超过5MB)"), required=False
    )
    prior_education = forms.ChoiceField(label=_("已有学历"), choices=PriorEducation.choices)
    prior_diploma_no = forms.CharField(label=_("毕业证书编号(可选)"), max_length=40, required=False)
    work_unit = forms.CharField(label=_("工作单位(可选)"), max_length=100, required=False)
    major = MajorChoiceField(label=_("报考专业"), queryset=registration_majors(), empty_label=_("请选择"))
    exam_area = AreaChoiceField(
        label=_("报考考区(县/区)"), queryset=registration_areas(), empty_label=_("请选择")
    )
    work_proof = forms.FileField(
        label=_("从业证明(限制报考专业必传，PDF/JPEG/PNG，不超过5MB)"), required=False
    )
    photo = forms.FileField(
        label=_("本人近期正面免冠证件照(JPEG/PNG，竖幅，宽240至2000像素，不超过2MB)"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    pledge = forms.BooleanField(
        label=_("本人已阅读并同意《诚信考试承诺书》"),
        required=True,
        error_messages={"required": _("请阅读并同意《诚信考试承诺书》。")},
    )
    field_order = [
        "id_type",
        "id_number",
        "name",
        "gender",
        "birth_date",
        "phone",
        "address",
        "residence_basis",
        "household_region",
        "residence_proof",
        "prior_education",
        "prior_diploma_no",
        "work_unit",
        "major",
        "exam_area",
        "work_proof",
        "photo",
        "pledge",
        "captcha",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Querysets are evaluated per form, so majors and areas added later appear.
        self.fields["major"].queryset = registration_majors()
        self.fields["exam_area"].queryset = registration_areas()


class StatusForm(CaptchaMixin):
    pre_registration_no = forms.CharField(
        label=_("报名号"), max_length=16, widget=forms.TextInput(attrs={**_PLAIN, "inputmode": "numeric"})
    )
    id_number = forms.CharField(label=_("证件号码"), max_length=32, widget=forms.TextInput(attrs=_PLAIN))
    field_order = ["pre_registration_no", "id_number", "captcha"]
