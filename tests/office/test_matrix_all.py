"""The permission matrix of the whole office back office, discovered from the URLconf.

Every page and action under /office/ is found by walking `zikao.office.urls` (see
`tests/office/matrix_support.py`), so a page added later is covered without touching this file:

1. every office URL is wrapped by `office_view` (read from the view's decorator chain), and an
   anonymous request is sent to the sign-in page; the sign-in pages are the only exceptions and
   are listed here by name;
2. every page without path parameters, for every role (and no role) at every office level: 200
   when the permission the decorator names is granted by `has_perm` at that level, else the 403
   page, with no audit event written;
3. every URL accepting POST, posted to empty-handed by an anonymous visitor, by a province user
   without roles, and by a user holding every role but at an office level too low for the
   permission: sent to sign-in / 403, and not one row of any project table changes;
4. every URL naming a candidate number: a user with the permission reaches a candidate of their
   scope; a candidate outside their scope gets exactly the not-found page a missing number gets.

The offices, one signed-in client per role × level and the objects the dummy path parameters
name are built once for the module inside a transaction rolled back at its end (each test runs
in its own savepoint within it), which keeps ~1,400 cases to a couple of minutes.

A real gap found here is not fixed in the app from this file: its case id goes in `KNOWN_GAPS`
(strict xfail), so the suite stays green while the gap stays visible.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client
from django.views.decorators.http import require_GET, require_POST
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import (
    CandidateFactory,
    CityFactory,
    CountyFactory,
    ProvinceFactory,
    SittingFactory,
    StaffFactory,
)
from tests.office.matrix_support import DUMMY_BY_NAME, Route, office_routes, snapshot, snapshot_diff
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import (
    _LEVEL_RANK,
    PERM_MIN_LEVEL,
    ROLE_LABELS,
    ROLE_PERMISSIONS,
    Perm,
    Role,
)
from zikao.core import clock
from zikao.core.identity import make_resident_id
from zikao.core.masking import mask_name
from zikao.core.models import AuditEvent
from zikao.office.access import office_view
from zikao.office.views_scores import corrections_view

pytestmark = pytest.mark.django_db

# The only office URLs an anonymous visitor may reach: the two sign-in steps, TOTP enrolment
# (reached between them) and sign-out. Anything else without office_view fails test 1.
SIGN_IN_PAGES = frozenset({"login", "auth_totp", "auth_enrol", "logout"})

# Pages gated by office_view() without a permission and without a known second gate: open to
# every signed-in staff user on purpose.
OPEN_TO_ALL_STAFF = frozenset({"home"})

# Case id → reason, for gaps this matrix found in the app (strict xfail: fixing the app turns the
# case into an unexpected pass, and the entry must then be removed).
KNOWN_GAPS: dict[str, str] = {}

NO_ROLE = "no_role"
ALL_ROLES = "all_roles"
ROLES = sorted(ROLE_LABELS)
LEVELS = ("province", "city", "county")
ALL_PERMS = frozenset(v for k, v in vars(Perm).items() if k.isupper())

ROUTES = office_routes()
GATED = [r for r in ROUTES if r.name not in SIGN_IN_PAGES]
GET_PAGES = [r for r in GATED if not r.params and r.accepts("GET")]
POST_ROUTES = [r for r in GATED if r.accepts("POST")]
CANDIDATE_ROUTES = [r for r in GATED if r.takes_candidate_no()]

MISSING_NO = "010199999999"  # a well-formed number nobody has
OUTSIDER_NO = "010826100007"  # a candidate of 姑苏区 (other city)
OWN_NO = "010220100009"  # a candidate of 玄武区 (the county users' own office)
OUTSIDER_NAME = "欧阳慕远"
TARGET_STAFF_PK = 999999  # = the dummy for <int:...>: staff-administration actions hit a real user


def _param(*values, id: str):
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[id])] if id in KNOWN_GAPS else []
    return pytest.param(*values, id=id, marks=marks)


def _templates(response) -> set[str]:
    return {t.name for t in getattr(response, "templates", []) if t.name}


def _is_sign_in_redirect(response, path: str) -> bool:
    return response.status_code == 302 and response["Location"] == f"/office/login/?next={quote(path)}"


def _lowest_level(perm: str | None) -> str:
    return PERM_MIN_LEVEL.get(perm or "", "county")


# --- the shared world --------------------------------------------------------------------------


def _staff(office, roles=(), **kwargs):
    """Like the `make_staff` fixture: a staff user with the roles and a confirmed TOTP device."""
    user = StaffFactory(office=office, **kwargs)
    for role in roles:
        StaffRole.objects.create(user=user, role=role, granted_at=clock.now())
    TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    return user


def _signed_in(user) -> Client:
    """Like the `staff_client` fixture: signed in with the second factor verified."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()
    return client


def _build():
    province = ProvinceFactory()
    city = CityFactory(parent=province)
    county = CountyFactory(parent=city, name="玄武区", region_code="320102", exam_code="02")
    CountyFactory(parent=city, name="秦淮区", region_code="320104", exam_code="04")
    other_city = CityFactory(parent=province, name="苏州市", region_code="320500", exam_code="05")
    other_county = CountyFactory(parent=other_city, name="姑苏区", region_code="320508", exam_code="08")
    office_at = {"province": province, "city": city, "county": county}

    users, clients = {}, {}
    for who in [*ROLES, NO_ROLE, ALL_ROLES]:
        roles = {NO_ROLE: (), ALL_ROLES: tuple(ROLES)}.get(who, (who,))
        for level in LEVELS:
            users[who, level] = _staff(office_at[level], roles, username=f"m_{who}_{level}")
            clients[who, level] = _signed_in(users[who, level])

    target = _staff(county, (Role.READ_ONLY,), pk=TARGET_STAFF_PK, username="m_target")
    sitting = SittingFactory(
        label=DUMMY_BY_NAME["label"],
        first_day=dt.date(2026, 10, 24),
        release_at=dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    dummy = CandidateFactory(
        candidate_no=DUMMY_BY_NAME["candidate_no"],
        county_office=county,
        id_number=make_resident_id("320102", dt.date(1995, 3, 14), 11),
    )
    outsider = CandidateFactory(
        candidate_no=OUTSIDER_NO,
        name=OUTSIDER_NAME,
        county_office=other_county,
        id_number=make_resident_id("320508", dt.date(1996, 7, 2), 21),
    )
    own = CandidateFactory(
        candidate_no=OWN_NO,
        name=OUTSIDER_NAME,
        county_office=county,
        id_number=make_resident_id("320102", dt.date(1996, 7, 2), 31),
    )
    return SimpleNamespace(
        users=users, clients=clients, target=target, sitting=sitting, dummy=dummy, outsider=outsider, own=own
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once, rolled back after the module (each test runs in a savepoint inside it)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build()
        transaction.set_rollback(True)


# --- 1. every office URL is gated ------------------------------------------------------------


def test_discovery_finds_every_area():
    """The walk reaches each included URL module (guards the walker itself)."""
    prefixes = {r.route.split("/", 1)[0] for r in GATED}
    assert {"staff", "catalog", "imports", "scores", "conduct", "records", "audit", "reports", "entries"} <= (
        prefixes
    )
    assert len(GATED) >= 100
    assert {"records_detail", "scores_candidate"} <= {r.name for r in CANDIDATE_ROUTES}
    assert {"auth_staff_deactivate", "audit_export_csv", "imports_run"} <= {r.name for r in POST_ROUTES}


def _plain_view(request):  # pragma: no cover - only decorated, never called
    return None


def test_gate_reading_sees_through_decorators():
    """The chain reading finds office_view under or over method decorators, reads its permission
    and the known second gate, and reports a view without office_view as ungated."""

    def route(callback) -> Route:
        return Route(name="probe", route="probe/", converters={}, callback=callback, default_args={})

    assert route(_plain_view).gate is None
    assert route(require_POST(_plain_view)).gate is None
    outer = route(require_POST(office_view(Perm.RECORDS_MERGE)(_plain_view)))
    inner = route(office_view(Perm.RECORDS_MERGE)(require_POST(_plain_view)))
    for probe in (outer, inner):
        assert probe.gate.perm == Perm.RECORDS_MERGE and probe.gate.extra == ""
        assert probe.accepts("POST") and not probe.accepts("GET")
    assert outer.refused_before_gate("GET") and not inner.refused_before_gate("GET")
    corrections = route(require_GET(corrections_view(_plain_view))).gate
    assert corrections.perm is None and "scores.correct_approve" in corrections.extra


def test_snapshot_sees_a_change(world):
    before = snapshot()
    CandidateFactory(county_office=world.outsider.county_office)
    changed = snapshot_diff(before, snapshot())
    assert len(changed) == 1 and changed[0].startswith("candidates.Candidate: 3→4 rows")


def test_sign_in_exceptions_exist_and_are_not_gated():
    names = {r.name for r in ROUTES}
    assert names >= SIGN_IN_PAGES, f"stale sign-in exceptions: {sorted(SIGN_IN_PAGES - names)}"
    assert names >= OPEN_TO_ALL_STAFF, f"stale open pages: {sorted(OPEN_TO_ALL_STAFF - names)}"
    for route in ROUTES:
        if route.name in SIGN_IN_PAGES:
            assert route.gate is None, f"{route.name} must be reachable before signing in"


@pytest.mark.parametrize("route", [_param(r, id=r.name) for r in GATED])
def test_office_url_is_wrapped_by_office_view(route: Route):
    gate = route.gate
    assert gate is not None, f"/office/{route.route} ({route.name}) is not wrapped by office_view"
    if gate.perm is None:
        assert gate.extra or route.name in OPEN_TO_ALL_STAFF, (
            f"{route.name}: office_view() without a permission; name one, or add the page to "
            "OPEN_TO_ALL_STAFF if every staff user may use it"
        )
    else:
        assert gate.perm in ALL_PERMS, f"{route.name}: unknown permission {gate.perm!r}"


@pytest.mark.parametrize("route", [_param(r, id=r.name) for r in GATED])
def test_anonymous_is_sent_to_sign_in(world, route: Route):
    path = route.url()
    method = "post" if route.refused_before_gate("GET") else "get"
    before = snapshot()
    response = getattr(Client(), method)(path)
    assert _is_sign_in_redirect(response, path), (method, path, response.status_code)
    assert snapshot_diff(before, snapshot()) == []


def test_sign_in_page_is_open(client):
    assert client.get("/office/login/").status_code == 200


# --- 2. role × office level × every page without parameters ----------------------------------


def _matrix_cases():
    for who in [*ROLES, NO_ROLE]:
        for level in LEVELS:
            for route in GET_PAGES:
                yield _param(who, level, route, id=f"{who}-{level}-{route.name}")


@pytest.mark.parametrize(("who", "level", "route"), list(_matrix_cases()))
def test_page_matrix(world, who: str, level: str, route: Route):
    user, client = world.users[who, level], world.clients[who, level]
    allowed = route.gate.allows(user)
    events = AuditEvent.objects.count()

    response = client.get(route.url())

    if allowed:
        assert response.status_code == 200, (route.name, response.status_code)
        assert "office/denied.html" not in _templates(response)
    else:
        assert response.status_code == 403, (route.name, response.status_code)
        assert "office/denied.html" in _templates(response)
        assert AuditEvent.objects.count() == events


def test_page_matrix_checks_both_answers(world):
    """Every gate met by the matrix is passed by some role × level and refused to another one,
    and no role at all passes none but the pages open to every staff user."""
    for route in GET_PAGES:
        answers = {route.gate.allows(world.users[role, level]) for role in ROLES for level in LEVELS}
        assert answers == ({True} if route.name in OPEN_TO_ALL_STAFF else {True, False}), route.name
        for level in LEVELS:
            assert route.gate.allows(world.users[NO_ROLE, level]) == (route.name in OPEN_TO_ALL_STAFF)


# --- 3. POST: refused means nothing changed ----------------------------------------------------


def _post_cases():
    for route in POST_ROUTES:
        yield _param(route, "anonymous", "", id=f"anonymous-{route.name}")
        if route.name not in OPEN_TO_ALL_STAFF:
            yield _param(route, NO_ROLE, "province", id=f"{NO_ROLE}-province-{route.name}")
        minimum = _lowest_level(route.gate.perm)
        for level in LEVELS:
            if _LEVEL_RANK[level] < _LEVEL_RANK[minimum]:
                yield _param(route, ALL_ROLES, level, id=f"{ALL_ROLES}-{level}-{route.name}")


@pytest.mark.parametrize(("route", "who", "level"), list(_post_cases()))
def test_refused_post_changes_nothing(world, route: Route, who: str, level: str):
    path = route.url()
    if who == "anonymous":
        client = Client()
    else:
        assert not route.gate.allows(world.users[who, level])
        client = world.clients[who, level]
    before = snapshot()

    response = client.post(path, {})

    if who == "anonymous":
        assert _is_sign_in_redirect(response, path), (path, response.status_code)
    else:
        assert response.status_code == 403, (path, response.status_code)
        assert "office/denied.html" in _templates(response)
    assert snapshot_diff(before, snapshot()) == []


def test_post_targets_are_real(world):
    """The dummy parameters name real rows, so the refusals above are not refusals of nothing:
    /office/staff/999999/deactivate/ would deactivate a real user if its gate were missing."""
    assert world.target.pk == TARGET_STAFF_PK and world.target.is_active
    assert world.sitting.label == DUMMY_BY_NAME["label"]
    assert world.dummy.candidate_no == DUMMY_BY_NAME["candidate_no"]
    deactivate = next(r for r in POST_ROUTES if r.name == "auth_staff_deactivate")
    assert deactivate.url() == f"/office/staff/{TARGET_STAFF_PK}/deactivate/"


# --- 4. own vs other office for every URL naming a candidate ---------------------------------


def _role_for(route: Route) -> str:
    """The first role (in code order) holding the permission the gate names."""
    for role in ROLES:
        if route.gate.perm is None or route.gate.perm in ROLE_PERMISSIONS[role]:
            return role
    raise AssertionError(f"no role grants {route.gate.perm} ({route.name})")


def _scope_cases():
    for route in CANDIDATE_ROUTES:
        yield _param(route, "province", "other", id=f"province-other_office-{route.name}")
        minimum = _lowest_level(route.gate.perm)
        for level in ("city", "county"):
            if _LEVEL_RANK[level] >= _LEVEL_RANK[minimum]:
                yield _param(route, level, "own", id=f"{level}-own_office-{route.name}")
                yield _param(route, level, "other", id=f"{level}-other_office-{route.name}")


def _send(client, route: Route, number: str):
    path = route.url(**{route.takes_candidate_no(): number})
    response = client.get(path) if route.accepts("GET") else client.post(path, {})
    return path, response


def _page(response, path: str) -> str:
    """The body without the two things that differ for any request: the CSRF token and the
    request's own path (echoed in the language switcher's `next`)."""
    text = response.content.decode()
    token = response.context.get("csrf_token") if response.context else None
    if token:
        text = text.replace(str(token), "<csrf>")
    return text.replace(path, "<path>")


@pytest.mark.parametrize(("route", "level", "whose"), list(_scope_cases()))
def test_candidate_scope(world, route: Route, level: str, whose: str):
    role = _role_for(route)
    user, client = world.users[role, level], world.clients[role, level]
    assert route.gate.allows(user)

    if level == "province" or whose == "own":
        number = OWN_NO if whose == "own" else OUTSIDER_NO
        _, response = _send(client, route, number)
        assert response.status_code in (200, 302), (route.name, response.status_code)
        if response.status_code == 302:
            assert not response["Location"].startswith("/office/login/")
        else:
            assert "office/not_found.html" not in _templates(response)
            assert number in response.content.decode()
        return

    before = snapshot()
    missing_path, missing = _send(client, route, MISSING_NO)
    hidden_path, hidden = _send(client, route, OUTSIDER_NO)
    assert snapshot_diff(before, snapshot()) == []

    assert missing.status_code == 404, (route.name, missing.status_code)
    assert hidden.status_code == 404
    assert "office/not_found.html" in _templates(hidden)
    assert _templates(hidden) == _templates(missing)
    page = _page(hidden, hidden_path)
    for secret in (OUTSIDER_NO, OUTSIDER_NAME, mask_name(OUTSIDER_NAME)):
        assert secret not in page
    assert page == _page(missing, missing_path)
