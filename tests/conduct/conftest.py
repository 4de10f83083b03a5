"""Fixtures of the conduct tests live in tests/conduct/fixtures.py (shared with tests/office)."""

from tests.conduct.fixtures import frozen, world  # noqa: F401
from tests.office.conftest import make_staff, offices, staff_client  # noqa: F401
