"""Forms of the entry pages (报考). They only collect what was posted: every rule (window, plan,
slots, maximum, area, seats, malformed codes or keys) is decided by `entries.services`, whose
refusals the page shows next to the course or field they concern."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_POSTED_CODES = 50


class CourseCodesField(forms.Field):
    """Every value posted under the name (checkboxes), trimmed; at most MAX_POSTED_CODES."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        cleaned = [str(v).strip()[:20] for v in values if str(v).strip()]
        if len(cleaned) > MAX_POSTED_CODES:
            raise forms.ValidationError(_("一次选择的课程过多。"), code="too_many")
        return cleaned


class EntryCreateForm(forms.Form):
    sitting = forms.CharField(max_length=6, widget=forms.HiddenInput)
    courses = CourseCodesField(required=False, label=_("报考课程"))
    area = forms.CharField(required=False, max_length=20, label=_("考区"))
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class EntryAreaForm(forms.Form):
    sitting = forms.CharField(max_length=6, widget=forms.HiddenInput)
    area = forms.CharField(required=False, max_length=20, label=_("新考区"))


class EntryChangeForm(forms.Form):
    sitting = forms.CharField(max_length=6, widget=forms.HiddenInput)
    remove = forms.CharField(required=False, max_length=20, label=_("放弃的已报课程"))
    add = forms.CharField(required=False, max_length=20, label=_("改报课程"))
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
