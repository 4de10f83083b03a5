"""Forms of the online registration (新生报名) pages: input shape only; rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from zikao.candidates.models import PriorEducation, Registration
from zikao.candidates.registration_selectors import registration_areas, registration_majors
from zikao.core.identity import Gender, IdType
from zikao.portal.forms import CaptchaMixin

_PLAIN = {"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}


# Documents whose number encodes the birth date and gender (GB 11643 layout): the form does not
# ask for them, the number is the source (`core.identity.check_identity` fills them in).
NUMBER_GIVES_BIRTH = frozenset({IdType.RESIDENT_ID, IdType.HKMO_RESIDENCE_PERMIT, IdType.TW_RESIDENCE_PERMIT})
DATE_FORMATS = ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d"]


class AreaChoiceField(forms.ModelChoiceField):
    """考区 by place ("南京市 玄武区"), not by the office's name."""

    def label_from_instance(self, obj) -> str:
        return obj.area_label


class MajorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        restricted = _("（须从业证明）") if obj.restricted else ""
        return f"{obj.code} {obj.name}（{obj.get_level_display()}）{restricted}"


class RegistrationForm(CaptchaMixin):
    id_type = forms.ChoiceField(label=_("证件类型"), choices=IdType.choices, initial=IdType.RESIDENT_ID)
    id_number = forms.CharField(label=_("证件号码"), max_length=32, widget=forms.TextInput(attrs=_PLAIN))
    name = forms.CharField(
        label=_("姓名"), max_length=50, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    # Only for documents that do not encode them (护照, 通行证, old 永久居留证); see clean().
    gender = forms.ChoiceField(label=_("性别"), choices=[("", _("请选择")), *Gender.choices], required=False)
    birth_date = forms.DateField(
        label=_("出生日期（如 1990-01-31）"),
        required=False,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(
            format="%Y-%m-%d",
            attrs={
                "placeholder": "YYYY-MM-DD",
                "autocomplete": "bday",
                "maxlength": "10",
                "spellcheck": "false",
            },
        ),
        error_messages={"invalid": _("请按 年-月-日 填写出生日期，如 1990-01-31。")},
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
        label=_("户籍所在地区码（6位，身份证考生可不填）"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={**_PLAIN, "inputmode": "numeric"}),
    )
    residence_proof = forms.FileField(
        label=_("居住证或社保缴纳证明（非本省户籍必传，PDF/JPEG/PNG，不超过5MB）"), required=False
    )
    prior_education = forms.ChoiceField(label=_("已有学历"), choices=PriorEducation.choices)
    prior_diploma_no = forms.CharField(label=_("毕业证书编号（可选）"), max_length=40, required=False)
    work_unit = forms.CharField(label=_("工作单位（可选）"), max_length=100, required=False)
    major = MajorChoiceField(label=_("报考专业"), queryset=registration_majors(), empty_label=_("请选择"))
    exam_area = AreaChoiceField(
        label=_("报考考区（县/区）"), queryset=registration_areas(), empty_label=_("请选择")
    )
    work_proof = forms.FileField(
        label=_("从业证明（限制报考专业必传，PDF/JPEG/PNG，不超过5MB）"), required=False
    )
    photo = forms.FileField(
        label=_("本人近期正面免冠证件照（JPEG/PNG，竖幅，宽240至2000像素，不超过2MB）"),
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

    def clean_gender(self) -> str | None:
        return self.cleaned_data.get("gender") or None

    def clean(self):
        """Birth date and gender come from the number where it encodes them (anything typed in the
        hidden fields is dropped); other documents must give both."""
        data = super().clean()
        id_type = data.get("id_type")
        if id_type in NUMBER_GIVES_BIRTH:
            data["birth_date"], data["gender"] = None, None
        elif id_type:
            if data.get("birth_date") is None and "birth_date" not in self.errors:
                self.add_error("birth_date", _("该证件类型须填写出生日期。"))
            if data.get("gender") is None and "gender" not in self.errors:
                self.add_error("gender", _("该证件类型须填写性别。"))
        return data


class StatusForm(CaptchaMixin):
    pre_registration_no = forms.CharField(
        label=_("报名号"), max_length=16, widget=forms.TextInput(attrs={**_PLAIN, "inputmode": "numeric"})
    )
    id_number = forms.CharField(label=_("证件号码"), max_length=32, widget=forms.TextInput(attrs=_PLAIN))
    field_order = ["pre_registration_no", "id_number", "captcha"]
