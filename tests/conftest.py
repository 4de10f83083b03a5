"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in zh-Hans: a request with Accept-Language: en leaves English active."""
    from django.utils import translation

    translation.activate("zh-hans")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _clean_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
