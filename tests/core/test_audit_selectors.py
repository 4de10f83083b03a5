"""Reading the audit trail (core.selectors): scope, each filter, keyset pages, masking, self-recording reads.

`audit_world` (also used by tests/office/test_audit_views.py) writes, in Beijing time on 2026-05-01..06:

e1 05-01 10:00  county clerk → county candidate      candidate.profile_updated (full ID, phone, name, address)
e2 05-02 09:00  sibling-county candidate (self)       account.login
e3 05-03 12:00  province staff → other-county cand.   score.corrected
e4 05-04 08:00  system                               courses.loaded (catalog: course names stay)
e5 05-05 18:30  other-city staff, no candidate        account.staff_note
e6 05-06 23:59  county clerk → other-county candidate candidate.profile_updated
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from tests.factories import SHANGHAI, CandidateFactory
from tests.office import conftest as office_fixtures
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.core import clock, selectors
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import NotFound, ValidationFailed
from zikao.core.identity import make_resident_id
from zikao.core.models import AuditEvent

pytestmark = pytest.mark.django_db

# The office tree and staff fixtures live in tests/office/conftest.py; make them usable here.
offices = office_fixtures.offices
make_staff = office_fixtures.make_staff

FULL_ID = make_resident_id("320102", dt.date(1990, 1, 2), 123)
OTHER_ID = make_resident_id("320508", dt.date(1988, 8, 8), 456)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 5, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def audit_world(offices, make_staff):
    clerk = make_staff(roles=(Role.RECORD_CLERK,), office=offices.county, username="xw_clerk")
    province_staff = make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province, username="sheng_scores")
    other_staff = make_staff(roles=(Role.RECORD_CLERK,), office=offices.other_city, username="sz_clerk")
    mine = CandidateFactory(
        county_office=offices.county, candidate_no="010224100001", id_number=FULL_ID, name="王小明"
    )
    sibling = CandidateFactory(county_office=offices.sibling_county, candidate_no="010424100002")
    elsewhere = CandidateFactory(
        county_office=offices.other_county, candidate_no="050824100003", id_number=OTHER_ID
    )

    def write(when, **kwargs):
        with clock.frozen_at(when):
            return audit_record(**kwargs)

    e1 = write(
        at(1, 10),
        actor=Actor.staff(clerk, ip="10.0.0.1"),
        event_type="candidate.profile_updated",
        subject=mine,
        candidate=mine,
        before={
            "name": "王小明",
            "id_number": FULL_ID,
            "phone": "13812345678",
            "address": "南京市玄武区中山路1号",
        },
        after={"name": "王晓明", "note": f"核对身份证 {FULL_ID}，电话 13912345678", "work_unit": "某公司"},
    )
    e2 = write(
        at(2, 9),
        actor=Actor.candidate(sibling, ip="10.0.0.2"),
        event_type="account.login",
        subject_type="accounts.candidateaccount",
        subject_id=sibling.pk,
        candidate=sibling,
        after={"outcome": "success"},
    )
    e3 = write(
        at(3, 12),
        actor=Actor.staff(province_staff),
        event_type="score.corrected",
        subject_type="scores.score",
        subject_id=1,
        candidate=elsewhere,
        before={"value": 55},
        after={"value": 60, "reason": "合分错误"},
    )
    e4 = write(
        at(4, 8),
        actor=Actor.system("load_courses"),
        event_type="courses.loaded",
        subject_type="catalog.course",
        subject_id="courses.csv",
        after={"created": 1, "name": "英语(二)"},
    )
    e5 = write(
        at(5, 18, 30),
        actor=Actor.staff(other_staff),
        event_type="account.staff_note",
        subject_type="accounts.user",
        subject_id=other_staff.pk,
        after={"field": "phone", "new_value": "13700001111"},
    )
    e6 = write(
        at(6, 23, 59),
        actor=Actor.staff(clerk),
        event_type="candidate.profile_updated",
        subject=elsewhere,
        candidate=elsewhere,
        after={
            "field": "id_number",
            "new_value": OTHER_ID,
            "old_value": OTHER_ID[:6] + "********" + OTHER_ID[-4:],
        },
    )
    return SimpleNamespace(
        clerk=clerk,
        province_staff=province_staff,
        other_staff=other_staff,
        mine=mine,
        sibling=sibling,
        elsewhere=elsewhere,
        events=[e1, e2, e3, e4, e5, e6],
    )


@pytest.fixture
def auditors(offices, make_staff):
    return SimpleNamespace(
        province=make_staff(roles=(Role.AUDITOR,), office=offices.province, username="aud_p"),
        city=make_staff(roles=(Role.AUDITOR,), office=offices.city, username="aud_c"),
        county=make_staff(roles=(Role.AUDITOR,), office=offices.county, username="aud_x"),
        other_county=make_staff(roles=(Role.AUDITOR,), office=offices.other_county, username="aud_o"),
    )


def _names(events, world) -> list[str]:
    index = {e.pk: f"e{i + 1}" for i, e in enumerate(world.events)}
    return [index[e.pk] for e in events if e.pk in index]


def _visible(user, world, flt=None):
    return _names(selectors.audit_events(user, flt or selectors.AuditFilter()), world)


# --- scope ----------------------------------------------------------------------------------------


def test_province_sees_everything_newest_first(audit_world, auditors):
    assert _visible(auditors.province, audit_world) == ["e6", "e5", "e4", "e3", "e2", "e1"]


def test_city_sees_its_candidates_and_its_staff(audit_world, auditors):
    # e1 county candidate, e2 sibling candidate, e6 by county staff (about another city's candidate)
    assert _visible(auditors.city, audit_world) == ["e6", "e2", "e1"]


def test_county_sees_its_candidates_and_its_staff(audit_world, auditors):
    assert _visible(auditors.county, audit_world) == ["e6", "e1"]


def test_other_county_sees_events_about_its_candidate_only(audit_world, auditors):
    assert _visible(auditors.other_county, audit_world) == ["e6", "e3"]


def test_event_outside_scope_is_not_found(audit_world, auditors):
    e1, e2, e3, e4, *_ = audit_world.events
    assert selectors.audit_event_get(auditors.county, e1.pk) == e1
    for event in (e2, e3, e4):
        with pytest.raises(NotFound):
            selectors.audit_event_get(auditors.county, event.pk)
    with pytest.raises(NotFound):
        selectors.audit_event_get(auditors.province, 10**9)


def test_reading_needs_audit_view(audit_world, offices, make_staff):
    clerk = make_staff(roles=(Role.RECORD_CLERK,), office=offices.province)
    with pytest.raises(PermissionDenied):
        selectors.audit_events(clerk, selectors.AuditFilter())
    with pytest.raises(PermissionDenied):
        selectors.audit_event_get(clerk, audit_world.events[0].pk)


# --- filters --------------------------------------------------------------------------------------


def test_filter_by_candidate_number(audit_world, auditors):
    flt = selectors.AuditFilter(candidate_no="050824100003")
    assert _visible(auditors.province, audit_world, flt) == ["e6", "e3"]
    assert _visible(auditors.county, audit_world, flt) == ["e6"]  # e3 is neither its candidate nor staff
    assert _visible(auditors.province, audit_world, selectors.AuditFilter(candidate_no="999999999999")) == []


def test_filter_by_staff_username(audit_world, auditors):
    assert _visible(auditors.province, audit_world, selectors.AuditFilter(username="xw_clerk")) == [
        "e6",
        "e1",
    ]
    assert _visible(auditors.province, audit_world, selectors.AuditFilter(username="sheng_scores")) == ["e3"]
    assert _visible(auditors.province, audit_world, selectors.AuditFilter(username="nobody")) == []


def test_filter_by_event_type(audit_world, auditors):
    flt = selectors.AuditFilter(event_type="candidate.profile_updated")
    assert _visible(auditors.province, audit_world, flt) == ["e6", "e1"]
    assert _visible(auditors.province, audit_world, selectors.AuditFilter(event_type="account.login")) == [
        "e2"
    ]


def test_filter_by_time_start_inclusive_end_exclusive(audit_world, auditors):
    flt = selectors.AuditFilter(start=at(2, 9), end=at(5, 18, 30))
    assert _visible(auditors.province, audit_world, flt) == ["e4", "e3", "e2"]
    flt = selectors.AuditFilter(start=at(2, 9, 1))
    assert _visible(auditors.province, audit_world, flt) == ["e6", "e5", "e4", "e3"]
    flt = selectors.AuditFilter(end=at(2, 9))
    assert _visible(auditors.province, audit_world, flt) == ["e1"]


def test_filters_combine(audit_world, auditors):
    flt = selectors.AuditFilter(username="xw_clerk", event_type="candidate.profile_updated", start=at(2, 0))
    assert _visible(auditors.province, audit_world, flt) == ["e6"]


@pytest.mark.parametrize(
    ("flt", "field"),
    [
        (selectors.AuditFilter(candidate_no="12345"), "candidate_no"),
        (selectors.AuditFilter(candidate_no="01022410000X"), "candidate_no"),
        (selectors.AuditFilter(start=at(3, 0), end=at(3, 0)), "end"),
        (selectors.AuditFilter(event_type="x" * 65), "event_type"),
    ],
)
def test_malformed_filter_is_refused(audit_world, auditors, flt, field):
    with pytest.raises(ValidationFailed) as caught:
        selectors.audit_events(auditors.province, flt)
    assert caught.value.code == "AUDIT_FILTER_INVALID"
    assert list(caught.value.fields) == [field]


# --- keyset pages ---------------------------------------------------------------------------------


def test_keyset_pages_walk_older_and_newer(audit_world, auditors):
    user = auditors.province
    first = selectors.audit_page(user, selectors.AuditFilter(), size=4)
    assert _names(first.events, audit_world) == ["e6", "e5", "e4", "e3"]
    assert first.newer is None and first.older is not None
    second = selectors.audit_page(user, selectors.AuditFilter(), before=first.older, size=4)
    assert _names(second.events, audit_world) == ["e2", "e1"]
    assert second.older is None and second.newer is not None
    back = selectors.audit_page(user, selectors.AuditFilter(), after=second.newer, size=4)
    assert _names(back.events, audit_world) == ["e6", "e5", "e4", "e3"]
    assert back.newer is None and back.older == first.older


def test_keyset_breaks_ties_on_id(offices, auditors):
    same = at(9, 9)
    with clock.frozen_at(same):
        events = [
            audit_record(actor=Actor.system(), event_type="t", subject_type="x", subject_id=i)
            for i in range(5)
        ]
    page1 = selectors.audit_page(auditors.province, selectors.AuditFilter(), size=2)
    page2 = selectors.audit_page(auditors.province, selectors.AuditFilter(), before=page1.older, size=2)
    page3 = selectors.audit_page(auditors.province, selectors.AuditFilter(), before=page2.older, size=2)
    seen = [e.pk for e in page1.events + page2.events + page3.events]
    assert seen == [e.pk for e in reversed(events)]
    assert page3.older is None


@pytest.mark.parametrize("cursor", ["abc", "1_2_3", "12_-4", "99999999999999999999999_1", "_"])
def test_bad_cursor_is_refused(audit_world, auditors, cursor):
    with pytest.raises(ValidationFailed) as caught:
        selectors.audit_page(auditors.province, selectors.AuditFilter(), before=cursor)
    assert caught.value.code == "AUDIT_CURSOR_INVALID"


def test_cursor_round_trip(audit_world):
    event = audit_world.events[0]
    assert selectors.decode_cursor(selectors.encode_cursor(event)) == (event.at, event.pk)


def test_event_types_are_distinct_and_sorted(audit_world):
    assert selectors.audit_event_types() == [
        "account.login",
        "account.staff_note",
        "candidate.profile_updated",
        "courses.loaded",
        "score.corrected",
    ]


# --- masking --------------------------------------------------------------------------------------


def test_mask_payload_masks_personal_data_by_key_and_in_text():
    masked = selectors.mask_payload(
        {
            "name": "王小明",
            "id_number": FULL_ID,
            "phone": "13812345678",
            "address": "南京市玄武区中山路1号",
            "note": f"核对身份证 {FULL_ID}，电话 13912345678",
            "nested": [{"former_name": "王大明"}],
            "count": 3,
        }
    )
    assert masked == {
        "name": "王**",
        "id_number": FULL_ID[:6] + "********" + FULL_ID[-4:],
        "phone": "138****5678",
        "address": "南京市玄武区****",
        "note": f"核对身份证 {FULL_ID[:6]}********{FULL_ID[-4:]}，电话 139****5678",
        "nested": [{"former_name": "王**"}],
        "count": 3,
    }


def test_mask_payload_follows_the_field_key():
    assert selectors.mask_payload({"field": "name", "old_value": "王小明", "new_value": "王晓明"}) == {
        "field": "name",
        "old_value": "王**",
        "new_value": "王**",
    }
    assert (
        selectors.mask_payload({"field": "phone", "new_value": "13700001111"})["new_value"] == "137****1111"
    )


def test_mask_payload_is_idempotent_and_keeps_catalog_names():
    once = selectors.mask_payload({"id_number": FULL_ID, "name": "王小明"})
    assert selectors.mask_payload(once) == once
    assert selectors.mask_payload({"name": "英语(二)"}, subject_type="catalog.course") == {"name": "英语(二)"}
    assert selectors.mask_payload(None) is None


def test_payload_rows_pair_before_and_after():
    rows = selectors.payload_rows({"a": 1, "b": "x"}, {"b": "y", "c": [1, 2]})
    assert [(r.key, r.before, r.after, r.changed) for r in rows] == [
        ("a", "1", "", False),
        ("b", "x", "y", True),
        ("c", "", "[1, 2]", False),
    ]


# --- reads that record themselves -----------------------------------------------------------------


def test_unmasked_read_is_recorded(audit_world, offices, make_staff):
    reader = make_staff(roles=(Role.AUDITOR, Role.RECORD_CLERK), office=offices.city)
    e1 = audit_world.events[0]
    with clock.frozen_at(at(10, 10)):
        event = selectors.audit_event_unmasked(actor=Actor.staff(reader, ip="10.1.1.1"), pk=e1.pk)
    assert event.before["id_number"] == FULL_ID
    record = AuditEvent.objects.get(event_type="audit.unmasked_viewed")
    assert (record.actor_user, record.subject_type, record.subject_id, record.candidate, record.ip) == (
        reader,
        "core.auditevent",
        str(e1.pk),
        audit_world.mine,
        "10.1.1.1",
    )
    assert record.after == {
        "event_type": "candidate.profile_updated",
        "event_at": "2026-05-01T02:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("roles", "level", "error"),
    [
        ((Role.AUDITOR,), "province", PermissionDenied),  # no full-ID permission
        ((Role.RECORD_CLERK,), "province", PermissionDenied),  # no audit permission
        ((Role.AUDITOR, Role.RECORD_CLERK), "other_county", NotFound),  # e1 out of scope
    ],
)
def test_unmasked_read_refusals_write_nothing(audit_world, offices, make_staff, roles, level, error):
    reader = make_staff(roles=roles, office=getattr(offices, level))
    before = AuditEvent.objects.count()
    with pytest.raises(error):
        selectors.audit_event_unmasked(actor=Actor.staff(reader), pk=audit_world.events[0].pk)
    assert AuditEvent.objects.count() == before


def test_export_is_recorded_before_rows_and_batches_cover_everything(audit_world, auditors, monkeypatch):
    monkeypatch.setattr(selectors, "EXPORT_BATCH", 2)
    flt = selectors.AuditFilter(start=at(1, 0), end=at(7, 0))
    rows = selectors.audit_export_start(actor=Actor.staff(auditors.city), flt=flt, fmt="csv")
    record = AuditEvent.objects.get(event_type="audit.exported")
    assert record.actor_user == auditors.city
    assert record.after == {"filter": flt.as_dict(), "format": "csv", "office": "320100"}
    assert _names(list(rows), audit_world) == ["e6", "e2", "e1"]


def test_export_refusals_write_nothing(audit_world, auditors, offices, make_staff):
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):  # audit.export needs city level
        selectors.audit_export_start(
            actor=Actor.staff(auditors.county), flt=selectors.AuditFilter(), fmt="csv"
        )
    with pytest.raises(ValidationFailed):
        selectors.audit_export_start(
            actor=Actor.staff(auditors.province), flt=selectors.AuditFilter(candidate_no="1"), fmt="csv"
        )
    assert AuditEvent.objects.count() == before
