"""Fixtures of the entries tests: the entry world (tests/entries/world.py)."""

from __future__ import annotations

import pytest

from tests.entries.world import EntryWorld, build_entry_world


@pytest.fixture
def world(db) -> EntryWorld:
    return build_entry_world()
