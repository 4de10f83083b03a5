"""Template filters of the violation pages."""

from __future__ import annotations

from django import template

from zikao.core.masking import mask_name

register = template.Library()


@register.filter
def masked_name(name: str | None) -> str:
    """张*, 欧阳**: lists show the name masked; the detail page shows it in full."""
    return mask_name(name)
