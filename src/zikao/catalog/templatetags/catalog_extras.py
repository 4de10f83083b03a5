"""Small template filters for the catalog's office pages."""

from __future__ import annotations

from django import template

from zikao.catalog.rules import SLOT_LABELS

register = template.Library()


@register.filter
def slot_label(code: str) -> str:
    """The slot code as people say it: SAT_AM → 周六上午 (unknown codes as they are)."""
    return str(SLOT_LABELS.get(code, code))


@register.filter
def lookup(mapping, key):
    """mapping[key] or "" (for dicts passed to a template)."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""
