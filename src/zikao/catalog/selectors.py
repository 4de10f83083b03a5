"""Reads of the catalog that front doors need."""

from __future__ import annotations

from django.db.models import QuerySet

from zikao.catalog.models import Sitting


def sittings_overview(*, limit: int = 4) -> QuerySet[Sitting]:
    """The latest sittings, newest first (label, first day, release time) for the home page."""
    return Sitting.objects.order_by("-label")[:limit]
