"""Office fixtures: an office tree with a neighbour at each level, staff with roles, signed-in clients.

`staff_client(user)` signs the user in with a confirmed TOTP device already verified in the
session, the state a real staff user is in after both factors; sign-in itself is tested in
tests/office/test_auth.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import CityFactory, CountyFactory, ProvinceFactory, StaffFactory
from zikao.accounts.models import StaffRole
from zikao.core import clock

STAFF_PASSWORD = "Office-Pass-2026"


@pytest.fixture
def offices(db):
    """province 江苏; city 南京 with counties 玄武 and 秦淮; city 苏州 with county 姑苏."""
    province = ProvinceFactory()
    city = CityFactory(parent=province)
    county = CountyFactory(parent=city, name="玄武区", region_code="320102", exam_code="02")
    sibling_county = CountyFactory(parent=city, name="秦淮区", region_code="320104", exam_code="04")
    other_city = CityFactory(parent=province, name="苏州市", region_code="320500", exam_code="05")
    other_county = CountyFactory(parent=other_city, name="姑苏区", region_code="320508", exam_code="08")
    return SimpleNamespace(
        province=province,
        city=city,
        county=county,
        sibling_county=sibling_county,
        other_city=other_city,
        other_county=other_county,
    )


@pytest.fixture
def make_staff(offices):
    """make_staff(roles=("record_clerk",), office=offices.county) → a staff user with a TOTP device."""

    def make(roles=(), office=None, **kwargs):
        user = StaffFactory(office=office or offices.province, **kwargs)
        user.set_password(STAFF_PASSWORD)
        user.save()
        for role in roles:
            StaffRole.objects.create(user=user, role=role, granted_at=clock.now())
        TOTPDevice.objects.create(user=user, name="default", confirmed=True)
        return user

    return make


@pytest.fixture
def staff_client():
    """staff_client(user) → a Client signed in as `user` with the second factor verified."""

    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    return login
