"""Forms of the office's catalog pages. They only parse input; the catalog services validate the
rules and refuse with stable codes, which `add_domain_error` puts next to the right field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from zikao.catalog.models import CourseKind, Level, School
from zikao.catalog.rules import SLOT_CODES, SLOT_LABELS
from zikao.core.errors import DomainError

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal on the form: each listed problem at its field (or on top), else
    at the first field named in the error's `fields`, else on top. The code is shown too."""
    problems = exc.fields.get("problems") if isinstance(exc.fields, dict) else None
    if problems and all(isinstance(p, dict) and "field" in p for p in problems):
        for problem in problems:
            name = problem.get("field") or None
            target = name if name in form.fields and not form.fields[name].disabled else None
            form.add_error(target, f"{problem['message']}({problem['code']})")
        return
    target = next((key for key in exc.fields if key in form.fields and not form.fields[key].disabled), None)
    form.add_error(target, f"{exc.message}({exc.code})")


def _datetime_field(label, required: bool = False, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
    )


class SearchForm(forms.Form):
    q = forms.CharField(label=_("查询"), required=False, max_length=100)


class CourseSearchForm(SearchForm):
    kind = forms.ChoiceField(label=_("类型"), required=False, choices=[("", _("全部")), *CourseKind.choices])


class MajorSearchForm(SearchForm):
    level = forms.ChoiceField(label=_("层次"), required=False, choices=[("", _("全部")), *Level.choices])


class CourseForm(forms.Form):
    code = forms.CharField(label=_("课程代码"), max_length=5, help_text=_("5位数字,如 00015"))
    name = forms.CharField(label=_("课程名称"), max_length=100)
    credits = forms.DecimalField(
        label=_("学分"), max_digits=4, decimal_places=1, help_text=_("整数或半学分(如3.5);毕业论文为0")
    )
    kind = forms.ChoiceField(label=_("类型"), choices=CourseKind.choices)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("课程代码是国家统一代码,不能更改。")


class SchoolForm(forms.Form):
    code = forms.CharField(label=_("学校代码"), max_length=10)
    name = forms.CharField(label=_("学校名称"), max_length=100)


class MajorForm(forms.Form):
    code = forms.CharField(label=_("专业代码"), max_length=7, help_text=_("6位国家专业代码,可加K/T后缀"))
    name = forms.CharField(label=_("专业名称"), max_length=100)
    level = forms.ChoiceField(label=_("层次"), choices=Level.choices)
    school = forms.ModelChoiceField(label=_("主考学校"), queryset=School.objects.order_by("code"))
    province_code = forms.CharField(
        label=_("省专业代码"), max_length=12, required=False, help_text=_("如 X2080901,可不填")
    )
    restricted = forms.BooleanField(label=_("限制性专业(须提供行业从业证明)"), required=False)


class UploadForm(forms.Form):
    file = forms.FileField(label=_("文件"))


class PlanUploadForm(UploadForm):
    file = forms.FileField(
        label=_("计划文件(TOML)"), help_text=_("考试计划、顶替表或思想政治课程规则,UTF-8 编码")
    )


class TimetableUploadForm(UploadForm):
    file = forms.FileField(
        label=_("时间表文件(.xlsx 或 .csv)"),
        help_text=_("列: 课程代码,时段(SAT_AM/SAT_PM/SUN_AM/SUN_PM);或 课程代码,日期,上下午"),
    )


class ApplyForm(forms.Form):
    base = forms.CharField(widget=forms.HiddenInput, max_length=64)


class SittingForm(forms.Form):
    """A sitting: label, first day, the four slots (blank: the default times), entry window,
    release time, review deadline."""

    label = forms.CharField(label=_("考次"), max_length=6, help_text=_("YYYYMM,如 202610"))
    first_day = forms.DateField(
        label=_("首考日"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("第一个时段(周六上午)的日期"),
    )
    entry_opens_at = _datetime_field(_("报考开始时间"))
    entry_closes_at = _datetime_field(_("报考截止时间"))
    release_at = _datetime_field(_("成绩发布时间"))
    review_closes_at = _datetime_field(_("复查申请截止时间"))
    review_from_policy = forms.BooleanField(
        label=_("复查截止时间留空时,按省级政策计算(发布后若干工作日17:00)"), required=False, initial=True
    )

    def __init__(
        self,
        *args,
        editing: bool = False,
        slots_locked: bool = False,
        entry_opened: bool = False,
        entry_closed: bool = False,
        release_locked: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        for code in SLOT_CODES:
            label = SLOT_LABELS[code]
            self.fields[f"{code.lower()}_starts_at"] = _datetime_field(_("%(slot)s 开始") % {"slot": label})
            self.fields[f"{code.lower()}_ends_at"] = _datetime_field(_("%(slot)s 结束") % {"slot": label})
        if editing:
            self.fields["label"].disabled = True
            self.fields["label"].help_text = _("考次创建后不能更改。")
        if slots_locked:
            self.fields["first_day"].disabled = True
            for code in SLOT_CODES:
                self.fields[f"{code.lower()}_starts_at"].disabled = True
                self.fields[f"{code.lower()}_ends_at"].disabled = True
        if entry_opened:
            self.fields["entry_opens_at"].disabled = True
        if entry_closed:
            self.fields["entry_closes_at"].disabled = True
        if release_locked:
            self.fields["release_at"].disabled = True
            self.fields["release_at"].help_text = _("成绩已发布,发布时间不能在此更改。")

    def slot_fields(self):
        """(label, start field, end field) per slot, for the template."""
        return [
            (SLOT_LABELS[code], self[f"{code.lower()}_starts_at"], self[f"{code.lower()}_ends_at"])
            for code in SLOT_CODES
        ]

    def main_fields(self):
        return [self[name] for name in ("label", "first_day")]

    def window_fields(self):
        return [
            self[name]
            for name in (
                "entry_opens_at",
                "entry_closes_at",
                "release_at",
                "review_closes_at",
                "review_from_policy",
            )
        ]

    def clean(self):
        data = super().clean()
        times = [data.get(f"{code.lower()}_{end}") for code in SLOT_CODES for end in ("starts_at", "ends_at")]
        given = [t for t in times if t is not None]
        if given and len(given) != len(times):
            raise forms.ValidationError(_("请填写全部四个时段的开始和结束时间,或全部留空以使用默认时间。"))
        return data

    def slots(self):
        """code → (start, end), or None for the default times."""
        data = self.cleaned_data
        if data.get(f"{SLOT_CODES[0].lower()}_starts_at") is None:
            return None
        return {
            code: (data[f"{code.lower()}_starts_at"], data[f"{code.lower()}_ends_at"]) for code in SLOT_CODES
        }


class TimetableEntryForm(forms.Form):
    course_code = forms.CharField(label=_("课程代码"), max_length=5)
    slot = forms.ChoiceField(label=_("时段"), choices=[(code, SLOT_LABELS[code]) for code in SLOT_CODES])

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["course_code"].disabled = True
