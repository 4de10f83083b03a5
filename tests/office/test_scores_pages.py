"""Office score pages (/office/scores/): permission matrix of every page and action, and the
flows a score office goes through: move the release, publish early, withhold and release a
candidate, preview, request / approve / reject a correction, download evidence."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import SHANGHAI, CandidateFactory, CourseFactory, ScoreFactory, SittingFactory
from zikao.accounts.permissions import Role
from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.models import AuditEvent
from zikao.scores import cache as score_cache
from zikao.scores.models import Score, ScoreCorrection, ScoreWithholding
from zikao.scores.publication import withholding_create
from zikao.scores.services import correction_request

RELEASE = dt.datetime(2026, 5, 10, 15, 0, tzinfo=SHANGHAI)
EARLIER = RELEASE - dt.timedelta(days=1)
AFTER = RELEASE + dt.timedelta(days=2)
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "private"
    return settings.MEDIA_ROOT


@pytest.fixture
def env(offices, make_staff):
    sitting = SittingFactory(label="202604", release_at=RELEASE)
    course = CourseFactory(code="02324", name="离散数学")
    mine = CandidateFactory(county_office=offices.county, name="王小明")
    elsewhere = CandidateFactory(county_office=offices.other_county, name="赵大海")
    score = ScoreFactory(entry__candidate=mine, entry__sitting=sitting, entry__course=course, value=58)
    other_score = ScoreFactory(
        entry__candidate=elsewhere, entry__sitting=sitting, entry__course=course, value=77
    )
    users = SimpleNamespace(
        reader=make_staff(roles=(Role.READ_ONLY,), office=offices.county),
        city_reader=make_staff(roles=(Role.READ_ONLY,), office=offices.city),
        city_manager=make_staff(roles=(Role.SCORE_MANAGER,), office=offices.city),
        manager=make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province, username="zhang"),
        approver=make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province, username="li"),
        nobody=make_staff(roles=(), office=offices.province),
    )
    return SimpleNamespace(
        sitting=sitting, mine=mine, elsewhere=elsewhere, score=score, other_score=other_score, users=users
    )


def _withholding(env):
    with clock.frozen_at(EARLIER):
        return withholding_create(
            actor=Actor.staff(env.users.manager), candidate=env.mine, sitting=env.sitting, reason="违纪待查"
        )


def _correction(env):
    with clock.frozen_at(AFTER):
        return correction_request(
            actor=Actor.staff(env.users.manager),
            score=env.score,
            new_value=61,
            reason="漏计3分",
            evidence_note="复查单",
            evidence_file=SimpleUploadedFile("scan.pdf", PDF),
        )


def state(env) -> tuple:
    """Everything an action could change."""
    sitting = Sitting.objects.get(pk=env.sitting.pk)
    return (
        sitting.release_at,
        sitting.published_at,
        sorted(Score.objects.values_list("value", "is_current")),
        sorted(ScoreWithholding.objects.values_list("candidate_id", "released_at")),
        sorted(ScoreCorrection.objects.values_list("status", "decided_by_id")),
        AuditEvent.objects.count(),
    )


# --- permission matrix ------------------------------------------------------------------------

VIEW_PAGES = [
    ("office:scores_sittings", {}),
    ("office:scores_sitting", {"label": "202604"}),
    ("office:scores_candidate_lookup", {}),
]
PUBLISH_PAGES = [
    ("office:scores_sitting_publish_early", {"label": "202604"}),
    ("office:scores_preview", {}),
]


def _expect(user_key: str, needs: str) -> int:
    """The status each kind of user gets for a page needing `needs` (view / province)."""
    if user_key == "nobody":
        return 403
    if needs == "view":
        return 200
    return 200 if user_key in ("manager", "approver") else 403


@pytest.mark.parametrize("user_key", ["reader", "city_reader", "city_manager", "manager", "nobody"])
def test_get_pages_permission_matrix(client, env, staff_client, user_key):
    correction = _correction(env)
    withholding = _withholding(env)
    pages = [(name, kw, "view") for name, kw in VIEW_PAGES]
    pages += [(name, kw, "province") for name, kw in PUBLISH_PAGES]
    pages += [
        ("office:scores_candidate", {"candidate_no": env.mine.candidate_no}, "view"),
        ("office:scores_score", {"pk": env.score.pk}, "view"),
        ("office:scores_withholding_release", {"pk": withholding.pk}, "province"),
        ("office:scores_correction_new", {"pk": env.score.pk}, "province"),
        ("office:scores_corrections", {}, "province"),
        ("office:scores_correction", {"pk": correction.pk}, "province"),
        ("office:scores_correction_evidence", {"pk": correction.pk}, "province"),
    ]
    user = getattr(env.users, user_key)
    signed_in = staff_client(user)
    before = state(env)
    with clock.frozen_at(AFTER):
        for name, kw, needs in pages:
            url = reverse(name, kwargs=kw)
            anonymous = client.get(url)
            assert anonymous.status_code == 302 and anonymous["Location"].startswith("/office/login"), url
            assert signed_in.get(url).status_code == _expect(user_key, needs), (url, user_key)
    after = state(env)
    downloads = 1 if user_key == "manager" else 0  # the evidence download is an audit event
    assert after[:-1] == before[:-1] and after[-1] == before[-1] + downloads


@pytest.mark.parametrize(
    ("user_key", "expected"),
    [("reader", 404), ("city_reader", 404), ("city_manager", 404), ("manager", 200)],
)
def test_out_of_scope_candidate_looks_missing(env, staff_client, user_key, expected):
    signed_in = staff_client(getattr(env.users, user_key))
    with clock.frozen_at(AFTER):
        other = signed_in.get(
            reverse("office:scores_candidate", kwargs={"candidate_no": env.elsewhere.candidate_no})
        )
        detail = signed_in.get(reverse("office:scores_score", kwargs={"pk": env.other_score.pk}))
        lookup = signed_in.get(
            reverse("office:scores_candidate_lookup"), {"candidate_no": env.elsewhere.candidate_no}
        )
        missing = signed_in.get(reverse("office:scores_candidate", kwargs={"candidate_no": "019999999999"}))
        missing_score = signed_in.get(reverse("office:scores_score", kwargs={"pk": 999999}))
    assert (other.status_code, detail.status_code) == (expected, expected)
    assert lookup.status_code == (302 if expected == 200 else 404)
    assert (missing.status_code, missing_score.status_code) == (404, 404)
    if expected == 404:
        # indistinguishable from a missing record (but for the number in the language form's "next")
        assert _without_tokens(other).replace(env.elsewhere.candidate_no, "N") == _without_tokens(
            missing
        ).replace("019999999999", "N")
        assert "赵" not in other.content.decode()


def _without_tokens(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def _post_actions(env, withholding, correction) -> list[tuple[str, dict, dict]]:
    return [
        ("office:scores_sitting_reschedule", {"label": "202604"}, {"release_at": "2026-05-11T15:00:00"}),
        ("office:scores_sitting_publish_early", {"label": "202604"}, {"confirm": "on", "label": "202604"}),
        (
            "office:scores_withhold",
            {"label": "202604"},
            {"candidate_no": env.mine.candidate_no, "reason": "x"},
        ),
        ("office:scores_withholding_release", {"pk": withholding.pk}, {"note": "x"}),
        (
            "office:scores_correction_new",
            {"pk": env.other_score.pk},
            {"new_value": "80", "new_status": "valid", "reason": "x", "evidence_note": "y"},
        ),
        ("office:scores_correction_approve", {"pk": correction.pk}, {"note": ""}),
        ("office:scores_correction_reject", {"pk": correction.pk}, {"note": "x"}),
        ("office:scores_correction_withdraw", {"pk": correction.pk}, {"note": ""}),
    ]


@pytest.mark.parametrize("user_key", ["anonymous", "reader", "city_reader", "city_manager", "nobody"])
def test_actions_are_refused_and_change_nothing(client, env, staff_client, user_key):
    withholding = _withholding(env)
    correction = _correction(env)
    signed_in = client if user_key == "anonymous" else staff_client(getattr(env.users, user_key))
    before = state(env)
    with clock.frozen_at(EARLIER):
        for name, kw, data in _post_actions(env, withholding, correction):
            response = signed_in.post(reverse(name, kwargs=kw), data)
            expected = 302 if user_key == "anonymous" else 403
            assert response.status_code == expected, (name, user_key)
            if user_key == "anonymous":
                assert response["Location"].startswith("/office/login")
    assert state(env) == before


def test_menu_shows_only_usable_entries(env, staff_client):
    with clock.frozen_at(AFTER):
        reader = staff_client(env.users.reader).get(reverse("office:home")).content.decode()
        manager = staff_client(env.users.manager).get(reverse("office:home")).content.decode()
        nobody = staff_client(env.users.nobody).get(reverse("office:home")).content.decode()
    assert reverse("office:scores_sittings") in reader and reverse("office:scores_preview") not in reader
    assert reverse("office:scores_corrections") not in reader
    for name in ("office:scores_sittings", "office:scores_preview", "office:scores_corrections"):
        assert reverse(name) in manager
    assert reverse("office:scores_sittings") not in nobody


# --- publication flows ------------------------------------------------------------------------


def test_sittings_list_and_publication_page(env, staff_client):
    signed_in = staff_client(env.users.manager)
    with clock.frozen_at(RELEASE - dt.timedelta(hours=1, seconds=1)):
        listing = signed_in.get(reverse("office:scores_sittings")).content.decode()
        page = signed_in.get(reverse("office:scores_sitting", kwargs={"label": "202604"})).content.decode()
    assert "202604" in listing and "待发布" in listing and "01:00:01" in listing
    assert "2026-05-10 15:00:00" in page and 'data-countdown="3601"' in page
    assert reverse("office:scores_sitting_reschedule", kwargs={"label": "202604"}) in page
    assert reverse("office:scores_sitting_publish_early", kwargs={"label": "202604"}) in page
    with clock.frozen_at(RELEASE):
        page = signed_in.get(reverse("office:scores_sitting", kwargs={"label": "202604"})).content.decode()
    assert "已发布" in page and "data-countdown" not in page
    assert reverse("office:scores_sitting_reschedule", kwargs={"label": "202604"}) not in page
    reader_page = staff_client(env.users.reader).get(
        reverse("office:scores_sitting", kwargs={"label": "202604"})
    )
    assert reverse("office:scores_withhold", kwargs={"label": "202604"}) not in reader_page.content.decode()
    assert (
        staff_client(env.users.manager)
        .get(reverse("office:scores_sitting", kwargs={"label": "209913"}))
        .status_code
        == 404
    )


def test_reschedule_form(env, staff_client):
    signed_in = staff_client(env.users.manager)
    url = reverse("office:scores_sitting_reschedule", kwargs={"label": "202604"})
    with clock.frozen_at(EARLIER):
        bad = signed_in.post(url, {"release_at": "明天下午"})
        past = signed_in.post(url, {"release_at": "2026-05-08T15:00:00"})
        assert Sitting.objects.get().release_at == RELEASE
        good = signed_in.post(url, {"release_at": "2026-05-10T18:30:00"})
    assert bad.status_code == 400 and "请输入有效的日期和时间。" in bad.content.decode()
    assert past.status_code == 400 and "SITTING_RELEASE_IN_PAST" in past.content.decode()
    assert good.status_code == 302
    assert Sitting.objects.get().release_at == dt.datetime(2026, 5, 10, 18, 30, tzinfo=SHANGHAI)
    event = AuditEvent.objects.get(event_type="sitting.release_rescheduled")
    assert event.actor_user == env.users.manager


def test_publish_early_needs_confirmation(env, staff_client):
    signed_in = staff_client(env.users.manager)
    url = reverse("office:scores_sitting_publish_early", kwargs={"label": "202604"})
    with clock.frozen_at(EARLIER):
        page = signed_in.get(url)
        unticked = signed_in.post(url, {"label": "202604"})
        wrong = signed_in.post(url, {"confirm": "on", "label": "202610"})
        assert Sitting.objects.get().published_at is None
        done = signed_in.post(url, {"confirm": "on", "label": "202604"})
        again = signed_in.post(url, {"confirm": "on", "label": "202604"})
    assert page.status_code == 200 and "不能撤回" in page.content.decode()
    assert unticked.status_code == 400 and "请勾选确认。" in unticked.content.decode()
    assert wrong.status_code == 400 and "输入的考次代码与本考次不一致。" in wrong.content.decode()
    assert done.status_code == 302
    assert again.status_code == 400 and "SITTING_ALREADY_RELEASED" in again.content.decode()
    assert Sitting.objects.get().published_at == EARLIER
    assert AuditEvent.objects.filter(event_type="sitting.published_early").count() == 1


def test_withhold_and_release_by_candidate_number(env, staff_client, offices):
    signed_in = staff_client(env.users.manager)
    url = reverse("office:scores_withhold", kwargs={"label": "202604"})
    with clock.frozen_at(EARLIER):
        unknown = signed_in.post(url, {"candidate_no": "019999999999", "reason": "x"})
        malformed = signed_in.post(url, {"candidate_no": "01ab", "reason": "x"})
        no_reason = signed_in.post(url, {"candidate_no": env.mine.candidate_no, "reason": ""})
        assert not ScoreWithholding.objects.exists()
        done = signed_in.post(url, {"candidate_no": env.mine.candidate_no, "reason": "考场违纪待查"})
        twice = signed_in.post(url, {"candidate_no": env.mine.candidate_no, "reason": "考场违纪待查"})
        page = signed_in.get(reverse("office:scores_sitting", kwargs={"label": "202604"})).content.decode()
    assert unknown.status_code == 400 and "NOT_FOUND" in unknown.content.decode()
    assert malformed.status_code == 400 and "准考证号为12位数字。" in malformed.content.decode()
    assert no_reason.status_code == 400 and "请填写暂缓发布的原因。" in no_reason.content.decode()
    assert done.status_code == 302
    assert twice.status_code == 400 and "WITHHOLDING_ALREADY_ACTIVE" in twice.content.decode()
    w = ScoreWithholding.objects.get()
    assert (w.candidate, w.created_by, w.reason) == (env.mine, env.users.manager, "考场违纪待查")
    assert env.mine.candidate_no in page and "王**" in page and "考场违纪待查" in page
    release_url = reverse("office:scores_withholding_release", kwargs={"pk": w.pk})
    assert release_url in page
    # a city reader sees the withholding of a candidate in scope, not of one elsewhere
    city_page = staff_client(env.users.city_reader).get(
        reverse("office:scores_sitting", kwargs={"label": "202604"})
    )
    assert (
        env.mine.candidate_no in city_page.content.decode() and release_url not in city_page.content.decode()
    )
    with clock.frozen_at(AFTER):
        empty = signed_in.post(release_url, {"note": ""})
        released = signed_in.post(release_url, {"note": "结案"})
        again = signed_in.post(release_url, {"note": "结案"})
    assert empty.status_code == 400 and "请填写解除暂缓发布的说明。" in empty.content.decode()
    assert released.status_code == 302
    assert again.status_code == 400 and "WITHHOLDING_NOT_ACTIVE" in again.content.decode()
    w.refresh_from_db()
    assert (w.released_at, w.released_by, w.release_note) == (AFTER, env.users.manager, "结案")


def test_withholding_out_of_scope_candidate_for_city_staff_is_not_listed(env, staff_client):
    with clock.frozen_at(EARLIER):
        withholding_create(
            actor=Actor.staff(env.users.manager), candidate=env.elsewhere, sitting=env.sitting, reason="待查"
        )
    page = staff_client(env.users.city_reader).get(
        reverse("office:scores_sitting", kwargs={"label": "202604"})
    )
    assert env.elsewhere.candidate_no not in page.content.decode()
    listing = staff_client(env.users.city_reader).get(reverse("office:scores_sittings")).content.decode()
    assert '<td class="num">1</td>' in listing  # the count is of the whole sitting, nobody named


# --- preview ----------------------------------------------------------------------------------


def test_preview_shows_the_view_at_a_time_and_writes_no_cache(env, staff_client):
    signed_in = staff_client(env.users.manager)
    url = reverse("office:scores_preview")
    with clock.frozen_at(EARLIER):
        form = signed_in.get(url)
        before = signed_in.get(url, {"candidate_no": env.mine.candidate_no, "at": "2026-05-10T14:59:59"})
        at = signed_in.get(url, {"candidate_no": env.mine.candidate_no, "at": "2026-05-10T15:00:00"})
        unknown = signed_in.get(url, {"candidate_no": "019999999999", "at": "2026-05-10T15:00:00"})
        bad_time = signed_in.get(url, {"candidate_no": env.mine.candidate_no, "at": "soon"})
    assert form.status_code == 200
    assert before.status_code == 200 and ">58<" not in before.content.decode()
    assert "该时刻考生看不到任何成绩。" in before.content.decode()
    assert at.status_code == 200 and ">58<" in at.content.decode() and "离散数学" in at.content.decode()
    assert unknown.status_code == 404 and "NOT_FOUND" in unknown.content.decode()
    assert bad_time.status_code == 400 and "请输入有效的日期和时间。" in bad_time.content.decode()
    assert cache.get(score_cache._snapshot_key(env.mine.pk)) is None
    with clock.frozen_at(EARLIER):
        snapshot = score_cache.candidate_score_snapshot(env.mine)
    assert snapshot.scores == ()


def test_preview_with_a_withheld_candidate(env, staff_client):
    _withholding(env)
    with clock.frozen_at(EARLIER):
        page = staff_client(env.users.manager).get(
            reverse("office:scores_preview"),
            {"candidate_no": env.mine.candidate_no, "at": "2026-05-11T09:00:00"},
        )
    assert page.status_code == 200 and ">58<" not in page.content.decode()
    assert "暂缓发布（考生看不到本考次成绩）" in page.content.decode()


# --- a candidate's scores ---------------------------------------------------------------------


def test_candidate_scores_hide_unpublished_values_from_non_score_staff(env, staff_client):
    url = reverse("office:scores_candidate", kwargs={"candidate_no": env.mine.candidate_no})
    with clock.frozen_at(EARLIER):
        reader = staff_client(env.users.reader).get(url).content.decode()
        manager = staff_client(env.users.manager).get(url).content.decode()
    assert "离散数学" in reader and ">58<" not in reader and "否（未到发布时间）" in reader
    assert ">58<" in manager
    assert (
        reverse("office:scores_correction_new", kwargs={"pk": env.score.pk}) not in manager
    )  # not published yet
    with clock.frozen_at(AFTER):
        reader = staff_client(env.users.reader).get(url).content.decode()
        manager = staff_client(env.users.manager).get(url).content.decode()
    assert (
        ">58<" in reader
        and reverse("office:scores_correction_new", kwargs={"pk": env.score.pk}) not in reader
    )
    assert reverse("office:scores_correction_new", kwargs={"pk": env.score.pk}) in manager


def test_candidate_lookup_redirects_to_the_record(env, staff_client):
    response = staff_client(env.users.reader).get(
        reverse("office:scores_candidate_lookup"), {"candidate_no": env.mine.candidate_no}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "office:scores_candidate", kwargs={"candidate_no": env.mine.candidate_no}
    )


# --- corrections ------------------------------------------------------------------------------


def test_correction_request_approve_flow(env, staff_client, media, django_capture_on_commit_callbacks):
    requester = staff_client(env.users.manager)
    approver = staff_client(env.users.approver)
    new_url = reverse("office:scores_correction_new", kwargs={"pk": env.score.pk})
    with clock.frozen_at(AFTER):
        form = requester.get(new_url)
        no_evidence = requester.post(new_url, {"new_value": "61", "new_status": "valid", "reason": "漏计"})
        bad_value = requester.post(
            new_url, {"new_value": "abc", "new_status": "valid", "reason": "漏计", "evidence_note": "x"}
        )
        bad_file = requester.post(
            new_url,
            {
                "new_value": "61",
                "new_status": "valid",
                "reason": "漏计",
                "evidence_file": SimpleUploadedFile("a.exe", b"MZ"),
            },
        )
        assert not ScoreCorrection.objects.exists()
        done = requester.post(
            new_url,
            {
                "new_value": "61",
                "new_status": "valid",
                "reason": "复查发现第5题漏计3分",
                "evidence_note": "复查单 FC-12",
                "evidence_file": SimpleUploadedFile("scan.pdf", PDF),
            },
        )
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.content.decode()
    assert no_evidence.status_code == 400 and "CORRECTION_EVIDENCE_REQUIRED" in no_evidence.content.decode()
    assert bad_value.status_code == 400 and "分数应为0到100之间的整数。" in bad_value.content.decode()
    assert bad_file.status_code == 400 and "CORRECTION_EVIDENCE_TYPE" in bad_file.content.decode()
    correction = ScoreCorrection.objects.get()
    detail_url = reverse("office:scores_correction", kwargs={"pk": correction.pk})
    assert done.status_code == 302 and done["Location"] == detail_url
    approve_url = reverse("office:scores_correction_approve", kwargs={"pk": correction.pk})
    with clock.frozen_at(AFTER):
        own = requester.get(detail_url).content.decode()
        other = approver.get(detail_url).content.decode()
        queue = approver.get(reverse("office:scores_corrections")).content.decode()
        self_approve = requester.post(approve_url, {"note": ""})
    assert approve_url not in own and "须由另一位工作人员审核" in own
    assert approve_url in other and ">58<" in other and ">61<" in other and "复查单 FC-12" in other
    assert detail_url in queue
    assert self_approve.status_code == 400 and "CORRECTION_FOUR_EYES" in self_approve.content.decode()
    assert Score.objects.filter(candidate=env.mine).count() == 1
    with clock.frozen_at(AFTER), django_capture_on_commit_callbacks(execute=True):
        approved = approver.post(approve_url, {"note": "同意"})
        twice = approver.post(approve_url, {"note": "同意"})
    assert approved.status_code == 302
    assert twice.status_code == 400 and "CORRECTION_NOT_OPEN" in twice.content.decode()
    assert sorted(Score.objects.filter(candidate=env.mine).values_list("value", "is_current")) == [
        (58, False),
        (61, True),
    ]
    history = approver.get(reverse("office:scores_score", kwargs={"pk": env.score.pk})).content.decode()
    assert ">58<" in history and ">61<" in history and "复查发现第5题漏计3分" in history


def test_reject_and_withdraw_pages(env, staff_client):
    correction = _correction(env)
    reject_url = reverse("office:scores_correction_reject", kwargs={"pk": correction.pk})
    withdraw_url = reverse("office:scores_correction_withdraw", kwargs={"pk": correction.pk})
    with clock.frozen_at(AFTER):
        no_note = staff_client(env.users.approver).post(reject_url, {"note": ""})
        not_mine = staff_client(env.users.approver).post(withdraw_url, {"note": ""})
        withdrawn = staff_client(env.users.manager).post(withdraw_url, {"note": "填错"})
        late = staff_client(env.users.approver).post(reject_url, {"note": "证据不足"})
    assert no_note.status_code == 400 and "CORRECTION_NOTE_REQUIRED" in no_note.content.decode()
    assert not_mine.status_code == 400 and "CORRECTION_NOT_REQUESTER" in not_mine.content.decode()
    assert withdrawn.status_code == 302
    assert late.status_code == 400 and "CORRECTION_NOT_OPEN" in late.content.decode()
    correction.refresh_from_db()
    assert (correction.status, correction.decision_note) == ("withdrawn", "填错")


def test_evidence_download_is_an_attachment_and_audited(env, staff_client):
    correction = _correction(env)
    url = reverse("office:scores_correction_evidence", kwargs={"pk": correction.pk})
    with clock.frozen_at(AFTER):
        response = staff_client(env.users.approver).get(url)
        denied = staff_client(env.users.reader).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert (
        response["Content-Disposition"] == f'attachment; filename="correction-{correction.pk}-evidence.pdf"'
    )
    assert response["Cache-Control"] == "private, no-store"
    assert denied.status_code == 403
    events = AuditEvent.objects.filter(event_type="score.correction_evidence_viewed")
    assert [(e.actor_user, e.candidate_id) for e in events] == [(env.users.approver, env.mine.pk)]
