"""Office.area_label: how a candidate names an exam area ("南京市 玄武区"), not the office's name."""

from __future__ import annotations

import pytest

from tests.factories import CityFactory, CountyFactory, ProvinceFactory
from zikao.accounts.models import Office, derive_short_name


@pytest.mark.parametrize(
    ("name", "parent", "expected"),
    [
        ("南京市玄武区招生考试办公室", "南京市教育考试院", "玄武区"),
        ("南京市教育考试院", "江苏省教育考试院", "南京市"),
        ("江苏省教育考试院", "", "江苏省"),
        ("苏州市姑苏区教育考试中心", "苏州市招生考试中心", "姑苏区"),
        ("昆山市招生考试办公室", "苏州市教育考试院", "昆山市"),  # a county-level city keeps its name
        ("玄武区", "南京市", "玄武区"),  # already a place
        ("考试院", "", "考试院"),  # nothing left after the suffix: kept whole
    ],
)
def test_derive_short_name(name, parent, expected):
    assert derive_short_name(name, parent) == expected


@pytest.mark.django_db
def test_area_label_from_office_names_and_stored_short_name():
    province = ProvinceFactory(name="江苏省教育考试院")
    city = CityFactory(parent=province, name="南京市教育考试院")
    county = CountyFactory(parent=city, name="南京市玄武区招生考试办公室")
    # Filled when saved without one.
    assert list(Office.objects.order_by("region_code").values_list("short_name", flat=True)) == [
        "江苏省",
        "南京市",
        "玄武区",
    ]
    county = Office.objects.select_related("parent").get(pk=county.pk)
    assert (county.area_name, county.area_label) == ("玄武区", "南京市 玄武区")
    assert (city.area_label, province.area_label) == ("南京市", "江苏省")
    # A short name set by the office wins over the derived one.
    Office.objects.filter(pk=county.pk).update(short_name="玄武")
    assert Office.objects.select_related("parent").get(pk=county.pk).area_label == "南京市 玄武"
