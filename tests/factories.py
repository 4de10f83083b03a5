"""factory_boy factories for the domain models (small, valid defaults)."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from zikao.accounts.models import Office, User
from zikao.candidates.models import Candidate, CandidateMajor
from zikao.catalog.models import Course, Major, Plan, School, Sitting
from zikao.core.identity import make_resident_id
from zikao.entries.models import Entry
from zikao.scores.models import Score

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


class ProvinceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Office
        django_get_or_create = ("region_code",)

    name = "江苏省教育考试院"
    level = Office.Level.PROVINCE
    region_code = "320000"
    exam_code = "00"


class CityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Office
        django_get_or_create = ("region_code",)

    name = "南京市"
    level = Office.Level.CITY
    parent = factory.SubFactory(ProvinceFactory)
    region_code = "320100"
    exam_code = "01"


class CountyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Office
        django_get_or_create = ("region_code",)

    name = "玄武区"
    level = Office.Level.COUNTY
    parent = factory.SubFactory(CityFactory)
    region_code = "320102"
    exam_code = "02"


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"staff{n}")
    office = factory.SubFactory(CountyFactory)


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{90000 + n:05d}")
    name = factory.Sequence(lambda n: f"测试课程{n}")
    credits = 4
    kind = "theory"


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School
        django_get_or_create = ("code",)

    code = "10287"
    name = "南京航空航天大学"


class MajorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Major
        django_get_or_create = ("code", "level")

    code = "080901"
    name = "计算机科学与技术"
    level = "benke"
    school = factory.SubFactory(SchoolFactory)


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("major", "version")

    major = factory.SubFactory(MajorFactory)
    version = 2024
    title = "测试计划"
    min_total_credits = 73
    spec = factory.LazyFunction(dict)
    source_text = ""
    checksum = ""
    imported_at = factory.LazyFunction(timezone.now)


class SittingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sitting
        django_get_or_create = ("label",)

    label = "202604"
    first_day = dt.date(2026, 4, 11)
    release_at = dt.datetime(2026, 5, 10, 15, 0, tzinfo=SHANGHAI)


class CandidateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Candidate

    candidate_no = factory.Sequence(lambda n: f"0102241{n + 1:05d}")
    id_number = factory.Sequence(lambda n: make_resident_id("320102", dt.date(1995, 3, 14), n % 1000))
    name = "王小明"
    gender = factory.LazyAttribute(lambda o: "M" if int(o.id_number[16]) % 2 else "F")
    birth_date = dt.date(1995, 3, 14)
    county_office = factory.SubFactory(CountyFactory)
    registered_on = dt.date(2024, 3, 1)
    created_at = factory.LazyFunction(timezone.now)


class CandidateMajorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CandidateMajor

    candidate = factory.SubFactory(CandidateFactory)
    plan = factory.SubFactory(PlanFactory)
    major = factory.SelfAttribute("plan.major")
    registered_on = dt.date(2024, 3, 1)


class EntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entry

    candidate = factory.SubFactory(CandidateFactory)
    sitting = factory.SubFactory(SittingFactory)
    course = factory.SubFactory(CourseFactory)
    area = factory.SelfAttribute("candidate.county_office")
    created_at = factory.LazyFunction(timezone.now)


class ScoreFactory(factory.django.DjangoModelFactory):
    """An exam score with its entry."""

    class Meta:
        model = Score

    entry = factory.SubFactory(EntryFactory)
    candidate = factory.SelfAttribute("entry.candidate")
    course = factory.SelfAttribute("entry.course")
    sitting = factory.SelfAttribute("entry.sitting")
    value = 75
    created_at = factory.LazyFunction(timezone.now)
