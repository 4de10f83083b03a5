"""Shared builders for the registration (新生报名) tests: majors with plans, images, a valid submission."""

from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.factories import CityFactory, CountyFactory, MajorFactory, PlanFactory, ProvinceFactory
from zikao.candidates.registration import registration_submit
from zikao.core.audit import Actor
from zikao.core.identity import make_resident_id

BIRTH = dt.date(1995, 3, 14)
ID_NUMBER = make_resident_id("320102", BIRTH, 123)  # odd sequence: male
OUT_OF_PROVINCE_ID = make_resident_id("110101", dt.date(1990, 7, 1), 222)  # Beijing, female
IP = "203.0.113.9"


def image_bytes(width: int = 480, height: int = 640, fmt: str = "PNG", noise: bool = False) -> bytes:
    if noise:
        import os

        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (200, 210, 220))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def photo_upload(**kwargs) -> SimpleUploadedFile:
    fmt = kwargs.get("fmt", "PNG")
    ext = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "BMP": "bmp"}[fmt]
    return SimpleUploadedFile(f"photo.{ext}", image_bytes(**kwargs), content_type=f"image/{ext}")


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf_upload(name: str = "proof.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_BYTES, content_type="application/pdf")


def make_world(offices=None) -> SimpleNamespace:
    """Offices (the tests/office tree when given), an open major and a restricted one (护理学)."""
    if offices is None:
        province = ProvinceFactory()
        city = CityFactory(parent=province)
        county = CountyFactory(parent=city, name="玄武区", region_code="320102", exam_code="02")
        other_city = CityFactory(parent=province, name="苏州市", region_code="320500", exam_code="05")
        other_county = CountyFactory(parent=other_city, name="姑苏区", region_code="320508", exam_code="08")
    else:
        county, other_county = offices.county, offices.other_county
    plan = PlanFactory(
        major=MajorFactory(code="080901", name="计算机科学与技术", level="benke"), version=2024
    )
    nursing = MajorFactory(code="101101", name="护理学", level="benke")
    nursing.restricted = True
    nursing.save()
    nursing_plan = PlanFactory(major=nursing, version=2023)
    no_plan = MajorFactory(code="050101", name="汉语言文学", level="benke")
    return SimpleNamespace(
        county=county,
        other_county=other_county,
        major=plan.major,
        plan=plan,
        nursing=nursing,
        nursing_plan=nursing_plan,
        no_plan_major=no_plan,
    )


def submission(world, **overrides) -> dict:
    data = dict(
        id_type="resident_id",
        id_number=ID_NUMBER,
        name="李华",
        gender="M",
        birth_date=BIRTH,
        phone="13812345678",
        address="南京市玄武区北京东路1号",
        household_region="",
        residence_basis="household",
        prior_education="zhuanke",
        prior_diploma_no="1234561201005001",
        work_unit="",
        major_id=world.major.pk,
        exam_area_id=world.county.pk,
        pledge_accepted=True,
        photo=photo_upload(),
        residence_proof=None,
        work_proof=None,
    )
    data.update(overrides)
    return data


def submit(world, ip: str = IP, **overrides):
    return registration_submit(actor=Actor.public(ip=ip), **submission(world, **overrides))


import pytest  # noqa: E402


@pytest.fixture
def private_media(tmp_path, monkeypatch):
    """MEDIA_ROOT in a temporary folder: uploads of one test never reach another or the repo.

    Set with monkeypatch (not override_settings) so it unwinds in order with `captcha_passes`.
    """
    from django.conf import settings

    root = tmp_path / "private"
    monkeypatch.setattr(settings, "MEDIA_ROOT", root)
    return root


def stored_files(root) -> list:
    base = root / "registrations"
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []
