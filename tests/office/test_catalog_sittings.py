"""sitting_save against the database: defaults, refusals with codes and nothing written, the
release lock once scores are out, slots kept (entries point at them), audit and cache."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.catalog.office_support import (
    NOW,
    SYSTEM,
    at,
    events,
    make_sitting,
)
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.catalog.models import ProvincePolicy, Sitting, Slot
from zikao.catalog.services import CatalogRefused, sitting_save
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import ValidationFailed
from zikao.core.models import AuditEvent


@pytest.fixture
def frozen_now():
    with clock.frozen_at(NOW):
        yield NOW


@pytest.fixture
def manager(offices, make_staff):
    return Actor.staff(make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province))


def slot_times(sitting: Sitting) -> list[tuple[str, str, str]]:
    return [
        (s.code, clock_text(s.starts_at), clock_text(s.ends_at)) for s in sitting.slots.order_by("starts_at")
    ]


def clock_text(value) -> str:
    from django.utils import timezone

    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def test_create_generates_the_four_default_slots_and_audits(manager, frozen_now):
    sitting = sitting_save(
        actor=manager,
        label="202704",
        first_day=date(2027, 4, 10),
        entry_opens_at=at(2027, 2, 1, 9),
        entry_closes_at=at(2027, 2, 8, 17),
        release_at=at(2027, 5, 14, 15),
        review_from_policy=True,
    )
    assert slot_times(sitting) == [
        ("SAT_AM", "2027-04-10 09:00", "2027-04-10 11:30"),
        ("SAT_PM", "2027-04-10 14:30", "2027-04-10 17:00"),
        ("SUN_AM", "2027-04-11 09:00", "2027-04-11 11:30"),
        ("SUN_PM", "2027-04-11 14:30", "2027-04-11 17:00"),
    ]
    # Default policy: 7 working days after Friday 14 May → Tuesday 25 May, 17:00.
    assert sitting.review_closes_at == at(2027, 5, 25, 17)
    event = AuditEvent.objects.get(event_type="sitting.created")
    assert (event.subject_type, event.before) == ("catalog.sitting", None)
    assert event.after == {
        "label": "202704",
        "first_day": "2027-04-10",
        "slots": {
            "SAT_AM": ["2027-04-10T09:00:00+08:00", "2027-04-10T11:30:00+08:00"],
            "SAT_PM": ["2027-04-10T14:30:00+08:00", "2027-04-10T17:00:00+08:00"],
            "SUN_AM": ["2027-04-11T09:00:00+08:00", "2027-04-11T11:30:00+08:00"],
            "SUN_PM": ["2027-04-11T14:30:00+08:00", "2027-04-11T17:00:00+08:00"],
        },
        "entry_opens_at": "2027-02-01T09:00:00+08:00",
        "entry_closes_at": "2027-02-08T17:00:00+08:00",
        "release_at": "2027-05-14T15:00:00+08:00",
        "review_closes_at": "2027-05-25T17:00:00+08:00",
    }


def test_review_default_follows_the_province_policy(manager, frozen_now):
    ProvincePolicy.objects.create(review_working_days=5)
    sitting = sitting_save(
        actor=manager,
        label="202704",
        first_day=date(2027, 4, 10),
        release_at=at(2027, 5, 14, 15),
        review_from_policy=True,
    )
    assert sitting.review_closes_at == at(2027, 5, 21, 17)


def test_custom_slot_times_are_kept(manager, frozen_now):
    slots = {
        "SAT_AM": (at(2027, 4, 10, 8, 30), at(2027, 4, 10, 11)),
        "SAT_PM": (at(2027, 4, 10, 14), at(2027, 4, 10, 16, 30)),
        "SUN_AM": (at(2027, 4, 11, 8, 30), at(2027, 4, 11, 11)),
        "SUN_PM": (at(2027, 4, 11, 14), at(2027, 4, 11, 16, 30)),
    }
    sitting = sitting_save(actor=manager, label="202704", first_day=date(2027, 4, 10), slots=slots)
    assert slot_times(sitting)[0] == ("SAT_AM", "2027-04-10 08:30", "2027-04-10 11:00")


def test_refusals_carry_every_problem_and_write_nothing(manager, frozen_now):
    with pytest.raises(CatalogRefused) as caught:
        sitting_save(
            actor=manager,
            label="202705",
            first_day=date(2027, 4, 10),
            entry_opens_at=at(2027, 2, 8, 17),
            entry_closes_at=at(2027, 2, 1, 9),
            release_at=at(2027, 4, 11, 16),
            review_closes_at=at(2027, 4, 11, 15),
        )
    assert caught.value.code == "SITTING_INVALID"
    assert caught.value.fields["problems"] == [
        {
            "code": "SITTING_LABEL_MISMATCH",
            "field": "first_day",
            "message": "首考日 2027-04-10 不在考次 202705 所示的年月内。",
        },
        {
            "code": "SITTING_ENTRY_WINDOW_ORDER",
            "field": "entry_closes_at",
            "message": "报考截止时间须晚于开始时间。",
        },
        {
            "code": "SITTING_RELEASE_BEFORE_EXAM_END",
            "field": "release_at",
            "message": "成绩发布时间须晚于最后一个时段结束(2027-04-11 17:00)。",
        },
        {
            "code": "SITTING_REVIEW_BEFORE_RELEASE",
            "field": "review_closes_at",
            "message": "复查截止时间须晚于成绩发布时间。",
        },
    ]
    assert Sitting.objects.count() == Slot.objects.count() == 0
    assert events() == 0


def test_single_refusal_uses_its_own_code(manager, frozen_now):
    with pytest.raises(CatalogRefused) as caught:
        sitting_save(
            actor=manager, label="202704", first_day=date(2027, 4, 10), release_at=at(2027, 4, 11, 16)
        )
    assert caught.value.code == "SITTING_RELEASE_BEFORE_EXAM_END"


def test_label_is_unique_and_release_must_be_future(manager, frozen_now):
    make_sitting()
    with pytest.raises(CatalogRefused) as caught:
        sitting_save(actor=manager, label="202704", first_day=date(2027, 4, 10))
    assert caught.value.code == "SITTING_LABEL_TAKEN"
    with pytest.raises(CatalogRefused) as caught:
        sitting_save(actor=manager, label="202607", first_day=date(2026, 7, 4), release_at=at(2026, 8, 1, 15))
    assert caught.value.code == "SITTING_RELEASE_IN_PAST"
    assert Sitting.objects.count() == 1


def test_naive_times_are_refused(manager, frozen_now):
    from datetime import datetime

    with pytest.raises(ValidationFailed) as caught:
        sitting_save(
            actor=manager, label="202704", first_day=date(2027, 4, 10), release_at=datetime(2027, 5, 14, 15)
        )
    assert caught.value.code == "SITTING_BAD_TIME"


def test_edit_moves_times_in_place_and_keeps_slot_rows(
    manager, frozen_now, django_capture_on_commit_callbacks
):
    sitting = make_sitting()
    slot_ids = dict(sitting.slots.values_list("code", "pk"))
    slots = {s.code: (s.starts_at, s.ends_at) for s in sitting.slots.all()}
    slots["SUN_PM"] = (at(2027, 4, 11, 15), at(2027, 4, 11, 17, 30))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sitting_save(
            actor=manager,
            sitting=sitting,
            label="202704",
            first_day=date(2027, 4, 10),
            slots=slots,
            entry_opens_at=sitting.entry_opens_at,
            entry_closes_at=at(2027, 2, 10, 17),
            release_at=at(2027, 5, 20, 15),
            review_closes_at=sitting.review_closes_at,
        )
    assert len(callbacks) == 1  # the release moved: candidates' score cache invalidated
    assert dict(sitting.slots.values_list("code", "pk")) == slot_ids
    assert slot_times(Sitting.objects.get(pk=sitting.pk))[3] == (
        "SUN_PM",
        "2027-04-11 15:00",
        "2027-04-11 17:30",
    )
    event = AuditEvent.objects.get(event_type="sitting.changed")
    changed = {k for k in event.after if event.after[k] != event.before[k]}
    assert changed == {"slots", "entry_closes_at", "release_at"}
    assert event.before["release_at"] == "2027-05-15T15:00:00+08:00"
    assert event.after["release_at"] == "2027-05-20T15:00:00+08:00"


def test_saving_the_same_values_writes_nothing(manager, frozen_now):
    sitting = make_sitting()
    count = events()
    sitting_save(
        actor=manager,
        sitting=sitting,
        label=sitting.label,
        first_day=sitting.first_day,
        entry_opens_at=sitting.entry_opens_at,
        entry_closes_at=sitting.entry_closes_at,
        release_at=sitting.release_at,
        review_closes_at=sitting.review_closes_at,
    )
    assert events() == count


def edit(actor, sitting, **changes):
    values = {
        "label": sitting.label,
        "first_day": sitting.first_day,
        "slots": {s.code: (s.starts_at, s.ends_at) for s in sitting.slots.all()},
        "entry_opens_at": sitting.entry_opens_at,
        "entry_closes_at": sitting.entry_closes_at,
        "release_at": sitting.release_at,
        "review_closes_at": sitting.review_closes_at,
    }
    values.update(changes)
    return sitting_save(actor=actor, sitting=sitting, **values)


def test_release_time_cannot_change_once_released(manager):
    with clock.frozen_at(NOW):
        sitting = make_sitting()
    released = sitting.release_at
    with clock.frozen_at(released):
        count = events()
        with pytest.raises(CatalogRefused) as caught:
            edit(manager, sitting, release_at=released + timedelta(days=3))
        assert caught.value.code == "SITTING_RELEASE_LOCKED"
        assert str(caught.value.message) == "该考次成绩已发布,发布时间不能在此更改(请到成绩发布页面办理)。"
        assert Sitting.objects.get(pk=sitting.pk).release_at == released
        assert events() == count
        # The review deadline is still the catalog's to set.
        edit(manager, sitting, review_closes_at=at(2027, 5, 31, 17))
        assert Sitting.objects.get(pk=sitting.pk).review_closes_at == at(2027, 5, 31, 17)


def test_published_early_locks_the_release_time(manager):
    with clock.frozen_at(NOW):
        sitting = make_sitting()
    Sitting.objects.filter(pk=sitting.pk).update(published_at=at(2027, 5, 1, 10))
    sitting.refresh_from_db()
    with clock.frozen_at(at(2027, 5, 2, 9)), pytest.raises(CatalogRefused) as caught:
        edit(manager, sitting, release_at=at(2027, 5, 20, 15))
    assert caught.value.code == "SITTING_RELEASE_LOCKED"


def test_slots_lock_when_the_exam_starts(manager):
    with clock.frozen_at(NOW):
        sitting = make_sitting()
    slots = {s.code: (s.starts_at, s.ends_at) for s in sitting.slots.all()}
    slots["SUN_PM"] = (at(2027, 4, 11, 15), at(2027, 4, 11, 17, 30))
    with clock.frozen_at(at(2027, 4, 10, 9)), pytest.raises(CatalogRefused) as caught:
        edit(manager, sitting, slots=slots)
    assert caught.value.code == "SITTING_SLOTS_LOCKED"
    assert slot_times(Sitting.objects.get(pk=sitting.pk))[3] == (
        "SUN_PM",
        "2027-04-11 14:30",
        "2027-04-11 17:00",
    )


def test_label_cannot_change(manager, frozen_now):
    sitting = make_sitting()
    with pytest.raises(CatalogRefused) as caught:
        edit(manager, sitting, label="202705")
    assert [p["code"] for p in caught.value.fields["problems"]] == [
        "SITTING_LABEL_MISMATCH",
        "SITTING_LABEL_IMMUTABLE",
    ]
    assert Sitting.objects.get(pk=sitting.pk).label == "202704"


@pytest.mark.parametrize(
    ("roles", "level"), [((Role.CATALOG_MANAGER,), "city"), ((Role.READ_ONLY,), "province")]
)
def test_only_province_catalog_managers_create_or_change_sittings(
    offices, make_staff, frozen_now, roles, level
):
    actor = Actor.staff(make_staff(roles=roles, office=getattr(offices, level)))
    sitting = make_sitting()
    count = events()
    with pytest.raises(PermissionDenied):
        sitting_save(actor=actor, label="202710", first_day=date(2027, 10, 16))
    with pytest.raises(PermissionDenied):
        edit(actor, sitting, release_at=at(2027, 5, 20, 15))
    assert Sitting.objects.count() == 1
    assert Sitting.objects.get(pk=sitting.pk).release_at == at(2027, 5, 15, 15)
    assert events() == count


def test_system_actor_creates_sittings(db, frozen_now):
    sitting_save(actor=SYSTEM, label="202710", first_day=date(2027, 10, 16))
    assert Sitting.objects.get().slots.count() == 4


def test_entry_window_is_locked_once_closed(manager):
    with clock.frozen_at(NOW):
        sitting = make_sitting()
    with clock.frozen_at(at(2027, 2, 9, 9)):
        with pytest.raises(CatalogRefused) as caught:
            edit(manager, sitting, entry_closes_at=at(2027, 2, 20, 17))
        assert caught.value.code == "SITTING_ENTRY_WINDOW_LOCKED"
    assert Sitting.objects.get(pk=sitting.pk).entry_closes_at == at(2027, 2, 8, 17)
    with clock.frozen_at(at(2027, 2, 5, 9)):
        edit(manager, sitting, entry_closes_at=at(2027, 2, 20, 17))
    assert Sitting.objects.get(pk=sitting.pk).entry_closes_at == at(2027, 2, 20, 17)
