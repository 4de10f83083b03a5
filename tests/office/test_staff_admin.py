"""Staff administration (/office/staff/ and accounts.services_staff): scope by office subtree,
never one's own account, every change audited, every denial changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.office.conftest import STAFF_PASSWORD
from zikao.accounts import services_staff
from zikao.accounts.models import StaffRole, User
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import NotFound, ValidationFailed
from zikao.core.models import AuditEvent

NEW_PASSWORD = "Kao-Wu-Chu-2026!"


@pytest.fixture(autouse=True)
def _cheap_hasher(settings):
    """Dozens of staff users per test: hash their passwords cheaply (sign-in is tested with the
    production hasher in test_auth.py)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def snapshot() -> tuple:
    """Everything a staff change could touch."""
    return (
        sorted(
            User.objects.values_list(
                "pk", "username", "is_active", "failed_login_count", "locked_until", "password", "office_id"
            )
        ),
        sorted(StaffRole.objects.values_list("user_id", "role")),
        sorted(TOTPDevice.objects.values_list("pk", "user_id", "confirmed")),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def people(offices, make_staff):
    """A staff admin at each level, and one clerk in each county."""
    return {
        "province_admin": make_staff(roles=(Role.STAFF_ADMIN,), office=offices.province, username="p_admin"),
        "city_admin": make_staff(roles=(Role.STAFF_ADMIN,), office=offices.city, username="c_admin"),
        "county_admin": make_staff(roles=(Role.STAFF_ADMIN,), office=offices.county, username="x_admin"),
        "county_clerk": make_staff(roles=(Role.RECORD_CLERK,), office=offices.county, username="x_clerk"),
        "sibling_clerk": make_staff(
            roles=(Role.RECORD_CLERK,), office=offices.sibling_county, username="q_clerk"
        ),
        "other_clerk": make_staff(roles=(Role.READ_ONLY,), office=offices.other_county, username="g_clerk"),
        "reader": make_staff(roles=(Role.READ_ONLY,), office=offices.province, username="p_reader"),
    }


def listed(client) -> set[str]:
    response = client.get("/office/staff/")
    assert response.status_code == 200
    body = response.content.decode()
    return {name for name in User.objects.values_list("username", flat=True) if f">{name}</a>" in body}


# --- list and detail: the permission matrix ---------------------------------------------------------


def test_list_needs_sign_in_and_permission(people, staff_client, client):
    response = client.get("/office/staff/")
    assert response.status_code == 302 and response["Location"] == "/office/login/?next=/office/staff/"
    assert staff_client(people["reader"]).get("/office/staff/").status_code == 403
    assert staff_client(people["county_clerk"]).get("/office/staff/1/").status_code == 403


def test_menu_entry_only_with_permission(people, staff_client):
    assert "/office/staff/" in staff_client(people["county_admin"]).get("/office/").content.decode()
    assert "/office/staff/" not in staff_client(people["reader"]).get("/office/").content.decode()


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        ("county_admin", {"x_admin", "x_clerk"}),
        ("city_admin", {"c_admin", "x_admin", "x_clerk", "q_clerk"}),
        (
            "province_admin",
            {"p_admin", "c_admin", "x_admin", "x_clerk", "q_clerk", "g_clerk", "p_reader"},
        ),
    ],
)
def test_list_shows_the_subtree_only(people, staff_client, offices, admin, expected):
    User.objects.create(username="tech", is_staff=True)  # no office: never listed
    assert listed(staff_client(people[admin])) == expected


def test_list_filters(people, staff_client, offices):
    client = staff_client(people["city_admin"])
    body = client.get("/office/staff/", {"office": offices.sibling_county.pk}).content.decode()
    assert ">q_clerk</a>" in body and ">x_clerk</a>" not in body
    User.objects.filter(username="x_clerk").update(locked_until=clock.now() + dt.timedelta(minutes=5))
    body = client.get("/office/staff/", {"status": "locked"}).content.decode()
    assert ">x_clerk</a>" in body and ">q_clerk</a>" not in body and "已锁定" in body
    body = client.get("/office/staff/", {"q": "Q_CL"}).content.decode()
    assert ">q_clerk</a>" in body and ">x_clerk</a>" not in body
    # An office outside the subtree is not a valid filter: the whole subtree is shown.
    body = client.get("/office/staff/", {"office": offices.other_county.pk}).content.decode()
    assert ">g_clerk</a>" not in body


@pytest.mark.parametrize(
    ("admin", "target", "status"),
    [
        ("county_admin", "county_clerk", 200),
        ("county_admin", "sibling_clerk", 404),
        ("county_admin", "city_admin", 404),
        ("city_admin", "sibling_clerk", 200),
        ("city_admin", "other_clerk", 404),
        ("city_admin", "province_admin", 404),
        ("province_admin", "other_clerk", 200),
    ],
)
def test_detail_scope(people, staff_client, admin, target, status):
    response = staff_client(people[admin]).get(f"/office/staff/{people[target].pk}/")
    assert response.status_code == status
    if status == 404:
        assert "没有找到该记录" in response.content.decode()


def test_detail_of_missing_user_is_the_same_404(people, staff_client):
    response = staff_client(people["province_admin"]).get("/office/staff/999999/")
    assert response.status_code == 404 and "没有找到该记录" in response.content.decode()


def test_own_page_offers_no_changes(people, staff_client):
    me = people["county_admin"]
    body = staff_client(me).get(f"/office/staff/{me.pk}/").content.decode()
    assert "须由其他用户管理员修改" in body
    assert f"/office/staff/{me.pk}/roles/" not in body and f"/office/staff/{me.pk}/deactivate/" not in body


# --- actions: the matrix ------------------------------------------------------------------------------

ACTIONS = {
    "roles": {"roles": [Role.READ_ONLY, Role.AUDITOR]},
    "unlock": {},
    "totp-reset": {},
    "deactivate": {},
    "password": {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
}


@pytest.fixture
def locked_targets(people):
    User.objects.filter(pk__in=[u.pk for u in people.values()]).update(
        locked_until=clock.now() + dt.timedelta(minutes=20), failed_login_count=0
    )


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [
        (None, "county_clerk", 302),  # anonymous → sign-in page
        ("reader", "county_clerk", 403),  # no STAFF_MANAGE
        ("county_clerk", "county_clerk", 403),  # no STAFF_MANAGE, own account
        ("county_admin", "sibling_clerk", 404),
        ("county_admin", "other_clerk", 404),
        ("city_admin", "other_clerk", 404),
        ("city_admin", "province_admin", 404),
        ("county_admin", "county_admin", 409),  # own account
        ("province_admin", "province_admin", 409),
    ],
)
def test_refused_actions_change_nothing(
    people, locked_targets, staff_client, client, action, actor, target, status
):
    http = client if actor is None else staff_client(people[actor])
    before = snapshot()
    response = http.post(f"/office/staff/{people[target].pk}/{action}/", ACTIONS[action])
    assert response.status_code == status
    assert snapshot() == before
    if status == 409:
        assert "不能修改自己的账户或角色" in response.content.decode()


@pytest.mark.parametrize(
    ("actor", "target"),
    [
        ("county_admin", "county_clerk"),
        ("city_admin", "county_clerk"),
        ("city_admin", "sibling_clerk"),
        ("province_admin", "other_clerk"),
        ("province_admin", "city_admin"),
    ],
)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_in_scope_actions_succeed_and_are_audited(
    people, locked_targets, staff_client, action, actor, target
):
    admin, user = people[actor], people[target]
    response = staff_client(admin).post(f"/office/staff/{user.pk}/{action}/", ACTIONS[action])
    assert response.status_code == 302 and response["Location"] == f"/office/staff/{user.pk}/"
    event = AuditEvent.objects.exclude(event_type__startswith="staff.login").get()
    assert (event.actor_kind, event.actor_user_id, event.subject_type, event.subject_id) == (
        "staff",
        admin.pk,
        "accounts.user",
        str(user.pk),
    )
    assert event.ip == "127.0.0.1"
    fresh = User.objects.get(pk=user.pk)
    expected_type = {
        "roles": "staff.roles_changed",
        "unlock": "staff.unlocked",
        "totp-reset": "staff.totp_reset",
        "deactivate": "staff.deactivated",
        "password": "staff.password_reset",
    }[action]
    assert event.event_type == expected_type
    if action == "roles":
        assert sorted(StaffRole.objects.filter(user=user).values_list("role", flat=True)) == [
            Role.AUDITOR,
            Role.READ_ONLY,
        ]
        assert set(StaffRole.objects.filter(user=user).values_list("granted_by", flat=True)) <= {
            admin.pk,
            None,
        }
        assert event.before == {"roles": sorted(people_roles(target))}
        assert event.after["roles"] == [Role.AUDITOR, Role.READ_ONLY]
    elif action == "unlock":
        assert (fresh.locked_until, fresh.failed_login_count) == (None, 0)
        assert event.after == {"locked_until": None, "failed_login_count": 0}
    elif action == "totp-reset":
        assert not TOTPDevice.objects.filter(user=user).exists()
        assert event.before == {"totp": "confirmed"} and event.after == {"totp": "none"}
    elif action == "deactivate":
        assert fresh.is_active is False
        assert event.before == {"is_active": True} and event.after == {"is_active": False}
    elif action == "password":
        assert fresh.check_password(NEW_PASSWORD) and fresh.locked_until is None
        assert NEW_PASSWORD not in str(event.before) + str(event.after)
        assert fresh.password not in str(event.before) + str(event.after)


def people_roles(key: str) -> list[str]:
    return {
        "county_clerk": [Role.RECORD_CLERK],
        "sibling_clerk": [Role.RECORD_CLERK],
        "other_clerk": [Role.READ_ONLY],
        "city_admin": [Role.STAFF_ADMIN],
    }[key]


# --- each action's own rules ------------------------------------------------------------------------------


def test_roles_grant_and_revoke_exactly(people, staff_client):
    admin, clerk = people["county_admin"], people["county_clerk"]
    client = staff_client(admin)
    client.post(f"/office/staff/{clerk.pk}/roles/", {"roles": [Role.RECORD_CLERK, Role.CONDUCT_OFFICER]})
    rows = {r.role: r for r in StaffRole.objects.filter(user=clerk)}
    assert set(rows) == {Role.RECORD_CLERK, Role.CONDUCT_OFFICER}
    assert rows[Role.CONDUCT_OFFICER].granted_by_id == admin.pk
    assert rows[Role.RECORD_CLERK].granted_by_id is None  # the earlier grant is kept as it was
    event = AuditEvent.objects.get(event_type="staff.roles_changed")
    assert event.before == {"roles": [Role.RECORD_CLERK]}
    assert event.after == {
        "roles": [Role.CONDUCT_OFFICER, Role.RECORD_CLERK],
        "granted": [Role.CONDUCT_OFFICER],
        "revoked": [],
    }
    client.post(f"/office/staff/{clerk.pk}/roles/", {})  # every role revoked
    assert not StaffRole.objects.filter(user=clerk).exists()


def test_roles_unchanged_or_unknown_are_refused(people, staff_client):
    clerk = people["county_clerk"]
    client = staff_client(people["county_admin"])
    before = snapshot()
    response = client.post(f"/office/staff/{clerk.pk}/roles/", {"roles": [Role.RECORD_CLERK]})
    assert response.status_code == 409 and "角色没有变化。" in response.content.decode()
    response = client.post(f"/office/staff/{clerk.pk}/roles/", {"roles": ["superhero"]})
    assert response.status_code == 400
    assert snapshot() == before
    with pytest.raises(ValidationFailed) as refused:
        services_staff.staff_roles_set(
            actor=Actor.staff(people["county_admin"]), user_id=clerk.pk, roles=["superhero"]
        )
    assert refused.value.code == "STAFF_ROLE_UNKNOWN"
    assert snapshot() == before


def test_superuser_is_kept_out_of_the_office_page(people, make_staff, offices, staff_client):
    root = make_staff(roles=(), office=offices.province, is_superuser=True, is_staff=True)
    client = staff_client(people["province_admin"])
    before = snapshot()
    response = client.post(f"/office/staff/{root.pk}/deactivate/")
    assert response.status_code == 409
    assert "系统管理员账户只能由技术人员在系统管理后台维护。" in response.content.decode()
    assert snapshot() == before


def test_unlock_of_an_unlocked_user_is_refused(people, staff_client):
    clerk = people["county_clerk"]
    before = snapshot()
    response = staff_client(people["county_admin"]).post(f"/office/staff/{clerk.pk}/unlock/")
    assert response.status_code == 409 and "该账户没有被锁定。" in response.content.decode()
    assert snapshot() == before


def test_unlocked_user_can_sign_in_again(people, staff_client):
    clerk = people["county_clerk"]
    User.objects.filter(pk=clerk.pk).update(locked_until=clock.now() + dt.timedelta(minutes=20))
    from django.test import Client

    assert (
        Client().post("/office/login/", {"username": "x_clerk", "password": STAFF_PASSWORD}).status_code
        == 423
    )
    staff_client(people["county_admin"]).post(f"/office/staff/{clerk.pk}/unlock/")
    response = Client().post("/office/login/", {"username": "x_clerk", "password": STAFF_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/office/login/code/"


def test_totp_reset_ends_verified_sessions_and_forces_enrolment(people, staff_client):
    clerk = people["county_clerk"]
    session = staff_client(clerk)
    assert session.get("/office/").status_code == 200
    staff_client(people["county_admin"]).post(f"/office/staff/{clerk.pk}/totp-reset/")
    assert session.get("/office/").status_code == 302
    from django.test import Client

    signing_in = Client()
    response = signing_in.post("/office/login/", {"username": "x_clerk", "password": STAFF_PASSWORD})
    assert response["Location"] == "/office/login/enrol/"
    assert signing_in.get("/office/login/enrol/").status_code == 200
    assert TOTPDevice.objects.get(user=clerk).confirmed is False
    again = staff_client(people["county_admin"]).post(f"/office/staff/{clerk.pk}/totp-reset/")
    assert again.status_code == 302  # an enrolment had begun: its device is dropped too
    assert not TOTPDevice.objects.filter(user=clerk).exists()
    before = snapshot()
    response = staff_client(people["county_admin"]).post(f"/office/staff/{clerk.pk}/totp-reset/")
    assert response.status_code == 409 and "该账户尚未绑定动态口令。" in response.content.decode()
    assert snapshot() == before


def test_deactivate_ends_sessions_and_reactivate_restores(people, staff_client):
    clerk = people["county_clerk"]
    session = staff_client(clerk)
    admin = staff_client(people["county_admin"])
    admin.post(f"/office/staff/{clerk.pk}/deactivate/")
    assert session.get("/office/").status_code == 302
    before = snapshot()
    response = admin.post(f"/office/staff/{clerk.pk}/deactivate/")
    assert response.status_code == 409 and snapshot() == before
    response = admin.post(f"/office/staff/{clerk.pk}/reactivate/")
    assert response.status_code == 302
    assert User.objects.get(pk=clerk.pk).is_active is True
    assert list(StaffRole.objects.filter(user=clerk).values_list("role", flat=True)) == [Role.RECORD_CLERK]
    event = AuditEvent.objects.get(event_type="staff.reactivated")
    assert event.before == {"is_active": False} and event.after == {"is_active": True}
    assert admin.post(f"/office/staff/{clerk.pk}/reactivate/").status_code == 409


def test_weak_password_reset_is_refused_with_every_reason(people, staff_client):
    clerk = people["county_clerk"]
    before = snapshot()
    client = staff_client(people["county_admin"])
    response = client.post(
        f"/office/staff/{clerk.pk}/password/", {"password1": "12345", "password2": "12345"}
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "这个密码太短。它必须包含至少 8 个字符。" in body or "too short" in body
    assert "这个密码太常见了。" in body or "too common" in body
    assert snapshot() == before
    response = client.post(
        f"/office/staff/{clerk.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
    )
    assert response.status_code == 400 and "两次输入的密码不一致。" in response.content.decode()
    assert snapshot() == before


# --- create ------------------------------------------------------------------------------------------------


def create_form(office, **overrides) -> dict:
    return {
        "username": "wang.xm",
        "name": "王小明",
        "email": "",
        "office": str(office.pk),
        "roles": [Role.RECORD_CLERK],
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **overrides,
    }


@pytest.mark.parametrize(
    ("admin", "office", "ok"),
    [
        ("county_admin", "county", True),
        ("county_admin", "sibling_county", False),
        ("county_admin", "city", False),
        ("city_admin", "sibling_county", True),
        ("city_admin", "city", True),
        ("city_admin", "other_county", False),
        ("city_admin", "province", False),
        ("province_admin", "other_county", True),
    ],
)
def test_create_in_the_subtree_only(people, offices, staff_client, admin, office, ok):
    client = staff_client(people[admin])
    target_office = getattr(offices, office)
    assert (f'value="{target_office.pk}"' in client.get("/office/staff/new/").content.decode()) is ok
    before = snapshot()
    response = client.post("/office/staff/new/", create_form(target_office))
    if not ok:
        assert response.status_code == 400 and snapshot() == before
        with pytest.raises(ValidationFailed) as refused:
            services_staff.staff_create(
                actor=Actor.staff(people[admin]),
                username="wang.xm",
                name="王小明",
                office_id=target_office.pk,
                password=NEW_PASSWORD,
            )
        assert refused.value.code == "STAFF_OFFICE_OUT_OF_SCOPE"
        assert snapshot() == before
        return
    user = User.objects.get(username="wang.xm")
    assert response.status_code == 302 and response["Location"] == f"/office/staff/{user.pk}/"
    assert (user.first_name, user.office_id, user.is_active, user.is_staff) == (
        "王小明",
        target_office.pk,
        True,
        False,
    )
    assert user.check_password(NEW_PASSWORD)
    assert list(StaffRole.objects.filter(user=user).values_list("role", "granted_by")) == [
        (Role.RECORD_CLERK, people[admin].pk)
    ]
    assert not TOTPDevice.objects.filter(user=user).exists()  # enrols at first sign-in
    event = AuditEvent.objects.get(event_type="staff.created")
    assert (event.actor_user_id, event.subject_id) == (people[admin].pk, str(user.pk))
    assert event.after == {
        "username": "wang.xm",
        "name": "王小明",
        "email": "",
        "office": target_office.pk,
        "is_active": True,
        "roles": [Role.RECORD_CLERK],
    }
    assert NEW_PASSWORD not in str(event.after)


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"username": "X_CLERK"}, 422, "该用户名已被使用。"),
        ({"username": "a"}, 422, "用户名须为3至32位英文字母、数字或 . _ -，以字母或数字开头。"),
        ({"username": "王小明"}, 422, "用户名须为3至32位"),
        ({"password1": "password", "password2": "password"}, 422, "这个密码太常见了。"),
        ({"password1": "wang.xm2026", "password2": "wang.xm2026"}, 422, "密码跟 用户名 太相似了。"),
        ({"password1": "83920174655", "password2": "83920174655"}, 422, "密码只包含数字。"),
        ({"password2": "other-Pass-2026"}, 400, "两次输入的密码不一致。"),
        ({"roles": ["superhero"]}, 400, ""),
        ({"name": ""}, 400, ""),
    ],
)
def test_create_refusals_change_nothing(people, offices, staff_client, overrides, status, message):
    client = staff_client(people["county_admin"])
    before = snapshot()
    response = client.post("/office/staff/new/", create_form(offices.county, **overrides))
    assert response.status_code == status
    assert message in response.content.decode()
    assert snapshot() == before


def test_create_needs_the_permission(people, offices, staff_client, client):
    before = snapshot()
    assert client.post("/office/staff/new/", create_form(offices.county)).status_code == 302
    assert (
        staff_client(people["reader"]).post("/office/staff/new/", create_form(offices.county)).status_code
        == 403
    )
    assert staff_client(people["reader"]).get("/office/staff/new/").status_code == 403
    assert snapshot() == before


# --- services refuse on their own -----------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda actor, uid: services_staff.staff_roles_set(actor=actor, user_id=uid, roles=[Role.READ_ONLY]),
        lambda actor, uid: services_staff.staff_unlock(actor=actor, user_id=uid),
        lambda actor, uid: services_staff.staff_totp_reset(actor=actor, user_id=uid),
        lambda actor, uid: services_staff.staff_deactivate(actor=actor, user_id=uid),
        lambda actor, uid: services_staff.staff_reactivate(actor=actor, user_id=uid),
        lambda actor, uid: services_staff.staff_password_set(actor=actor, user_id=uid, password=NEW_PASSWORD),
    ],
)
def test_services_check_permission_and_scope_themselves(people, locked_targets, call):
    target = people["sibling_clerk"].pk
    before = snapshot()
    for actor in (Actor.system("cron"), Actor.public("192.0.2.1"), Actor.staff(people["reader"])):
        with pytest.raises(PermissionDenied):
            call(actor, target)
    for bad in (target, "999999", "abc", None):
        with pytest.raises(NotFound):
            call(Actor.staff(people["county_admin"]), bad)
    assert snapshot() == before


def test_inactive_admin_can_do_nothing(people):
    admin = people["county_admin"]
    User.objects.filter(pk=admin.pk).update(is_active=False)
    admin.refresh_from_db()
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services_staff.staff_deactivate(actor=Actor.staff(admin), user_id=people["county_clerk"].pk)
    assert snapshot() == before


def test_recent_events_show_on_the_detail_page(people, staff_client):
    clerk = people["county_clerk"]
    client = staff_client(people["county_admin"])
    client.post(f"/office/staff/{clerk.pk}/deactivate/")
    body = client.get(f"/office/staff/{clerk.pk}/").content.decode()
    assert '<th scope="row">停用账户</th><td>x_admin</td><td>127.0.0.1</td>' in body


# --- the first staff administrator (manage.py staff_bootstrap) ------------------------------------------


def test_bootstrap_command_creates_a_staff_admin_who_enrols_at_sign_in(offices, monkeypatch):
    from django.core.management import call_command
    from django.test import Client

    monkeypatch.setenv("ZIKAO_BOOTSTRAP_PASSWORD", NEW_PASSWORD)
    call_command("staff_bootstrap", "first.admin", "--office", "320000", "--name", "张三", "--technical")
    user = User.objects.get(username="first.admin")
    assert (user.office_id, user.first_name, user.is_superuser, user.is_staff) == (
        offices.province.pk,
        "张三",
        True,
        True,
    )
    assert list(StaffRole.objects.filter(user=user).values_list("role", flat=True)) == [Role.STAFF_ADMIN]
    event = AuditEvent.objects.get(event_type="staff.bootstrapped")
    assert (event.actor_kind, event.actor_label, event.before) == ("system", "staff_bootstrap", None)
    response = Client().post("/office/login/", {"username": "first.admin", "password": NEW_PASSWORD})
    assert response["Location"] == "/office/login/enrol/"


def test_bootstrap_recovers_a_locked_out_admin(people):
    admin = people["county_admin"]
    User.objects.filter(pk=admin.pk).update(locked_until=clock.now() + dt.timedelta(minutes=20))
    user = services_staff.staff_bootstrap(
        actor=Actor.system("staff_bootstrap"),
        username="x_admin",
        name="",
        office_region_code="320102",
        password=NEW_PASSWORD,
    )
    assert user.pk == admin.pk and user.locked_until is None and user.check_password(NEW_PASSWORD)
    assert not TOTPDevice.objects.filter(user=admin).exists()
    event = AuditEvent.objects.get(event_type="staff.bootstrapped")
    assert event.before["totp"] == "confirmed" and event.after["totp"] == "none"


@pytest.mark.parametrize(
    ("actor", "username", "office", "password", "error"),
    [
        (Actor.public("192.0.2.1"), "first.admin", "320000", NEW_PASSWORD, PermissionDenied),
        (Actor.system("x"), "a", "320000", NEW_PASSWORD, ValidationFailed),
        (Actor.system("x"), "first.admin", "999999", NEW_PASSWORD, ValidationFailed),
        (Actor.system("x"), "first.admin", "320000", "12345678", ValidationFailed),
    ],
)
def test_bootstrap_refusals_change_nothing(offices, actor, username, office, password, error):
    before = snapshot()
    with pytest.raises(error):
        services_staff.staff_bootstrap(
            actor=actor, username=username, name="", office_region_code=office, password=password
        )
    assert snapshot() == before
