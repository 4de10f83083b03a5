"""Security headers, production settings, CSRF, and templates/static files fit for a strict CSP.

The production checks run in subprocesses with `DEBUG=0` and a real-looking environment, so they
see exactly the settings a deployment gets (settings.py reads the environment at import time).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

import zikao

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(zikao.__file__).resolve().parent

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def production_env(tmp_path: Path) -> dict[str, str]:
    dropped = {"REDIS_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="zikao.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        DJANGO_SETTINGS_MODULE="zikao.settings",
        PYTHONPATH=str(ROOT / "src"),
    )
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_AGE"):
        env.pop(name, None)
    return env


def parse_csp(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value.strip()
    return directives


def assert_security_headers(response, *, where: str) -> None:
    assert "Content-Security-Policy" in response, f"no CSP on {where}"
    assert parse_csp(response["Content-Security-Policy"]) == EXPECTED_CSP, where
    assert response["X-Frame-Options"] == "DENY", where
    assert response["X-Content-Type-Options"] == "nosniff", where
    assert response["Referrer-Policy"] == "same-origin", where
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", where


# --- production settings ----------------------------------------------------------------------


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNING" not in output and "?: (" not in output, output


PRODUCTION_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="zikao.example.org")
plain = client.get("/healthz")
secure = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "debug": settings.DEBUG,
    "hsts_seconds": settings.SECURE_HSTS_SECONDS,
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "session_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "session_samesite": settings.SESSION_COOKIE_SAMESITE,
    "csrf_secure": settings.CSRF_COOKIE_SECURE,
    "csrf_httponly": settings.CSRF_COOKIE_HTTPONLY,
    "csrf_samesite": settings.CSRF_COOKIE_SAMESITE,
    "hashers": settings.PASSWORD_HASHERS[:1],
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location", ""),
    "secure_status": secure.status_code,
    "hsts": secure.get("Strict-Transport-Security", ""),
    "csp": secure.get("Content-Security-Policy", ""),
}))
"""


@pytest.mark.slow
def test_production_settings_turn_on_https_hsts_and_secure_cookies(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["debug"] is False
    assert seen["hsts_seconds"] >= 365 * 24 * 3600
    assert seen["session_secure"] is True and seen["csrf_secure"] is True
    assert seen["session_httponly"] is True and seen["csrf_httponly"] is True
    assert seen["session_samesite"] == "Lax" and seen["csrf_samesite"] == "Lax"
    assert seen["hashers"] == ["zikao.accounts.hashers.OwaspArgon2PasswordHasher"]
    # Plain HTTP is redirected to HTTPS; behind the TLS proxy the answer carries HSTS and CSP.
    assert seen["plain_status"] == 301
    assert seen["plain_location"] == "https://zikao.example.org/healthz"
    assert seen["secure_status"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert parse_csp(seen["csp"]) == EXPECTED_CSP


def test_production_hasher_is_no_weaker_than_owasp_minimum():
    from zikao.accounts.hashers import OwaspArgon2PasswordHasher

    hasher = OwaspArgon2PasswordHasher()
    assert hasher.memory_cost >= 19 * 1024
    assert hasher.time_cost >= 2
    assert hasher.parallelism >= 1
    encoded = hasher.encode("Zikao-2026-pass", hasher.salt())
    assert encoded.startswith("argon2$argon2id$")
    assert f"m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}" in encoded


# --- headers on pages and API responses -------------------------------------------------------


def _portal_paths() -> list[str]:
    """Every portal URL that takes no arguments (the pages other features add are included)."""
    paths: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                if "<" not in route and "(" not in route and "^" not in route:
                    paths.append("/" + route)

    resolver = get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver) and getattr(entry, "namespace", None) == "portal":
            walk(entry.url_patterns, str(entry.pattern))
    return sorted(set(paths))


@pytest.mark.django_db
def test_security_headers_on_every_portal_page():
    client = Client()
    paths = _portal_paths()
    assert "/" in paths and "/healthz" in paths
    for path in paths:
        response = client.get(path)
        assert response.status_code < 500, path
        assert_security_headers(response, where=path)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/docs", "/api/no-such-endpoint"])
def test_security_headers_on_api_responses(path):
    response = Client().get(path)
    assert response.status_code in {200, 404}
    assert_security_headers(response, where=path)


@pytest.mark.django_db
def test_security_headers_on_api_error_bodies():
    """A JSON error answer (unauthenticated or invalid input) carries the headers too."""
    schema = Client().get("/api/openapi.json").json()
    operations = [
        (method, path)
        for path, item in schema["paths"].items()
        if "{" not in path
        for method in item
        if method in {"get", "post"}
    ]
    if not operations:
        pytest.skip("the API has no operations yet")
    for method, path in operations:
        client = Client()
        if method == "get":
            response = client.get(path)
        else:
            response = client.post(path, data="{", content_type="application/json")
        assert response.status_code < 500, (method, path)
        assert_security_headers(response, where=f"{method.upper()} {path}")
        if response.status_code >= 400:
            assert set(response.json()) == {"code", "message", "fields"}, (method, path)


def test_api_docs_are_served_locally():
    from django.conf import settings

    # Without "ninja" in INSTALLED_APPS, django-ninja renders /api/docs with Swagger UI from a CDN.
    assert "ninja" in settings.INSTALLED_APPS


@pytest.mark.django_db
def test_api_docs_page_loads_nothing_external():
    body = Client().get("/api/docs").content.decode()
    assert not EXTERNAL_URL.search(body), EXTERNAL_URL.search(body)
    assert "/static/ninja/swagger-ui-bundle.js" in body


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_portal_url_refuses_a_post_without_csrf_token():
    client = Client(enforce_csrf_checks=True)
    for path in [*_portal_paths(), "/i18n/setlang/"]:
        response = client.post(path, {"language": "en"})
        assert response.status_code == 403, path


def _templates() -> list[Path]:
    return sorted(PACKAGE.glob("templates/**/*.html")) + sorted(PACKAGE.glob("*/templates/**/*.html"))


def test_every_post_form_carries_the_csrf_token():
    form = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        for match in form.finditer(text):
            block = match.group(0)
            if re.search(r"method\s*=\s*[\"']?post", block, re.I):
                where = path.relative_to(PACKAGE)
                assert "{% csrf_token %}" in block, f"{where}: POST form without csrf_token"


# --- templates and static files fit the CSP -----------------------------------------------------

INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc\s*=)(?![^>]*type\s*=\s*[\"']application/json)[^>]*>", re.I
)
INLINE_STYLE_BLOCK = re.compile(r"<style\b", re.I)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"javascript:", re.I)
# Any absolute or protocol-relative URL to another host; XML namespace names are not fetched.
EXTERNAL_URL = re.compile(r"(?:https?:)?//(?!www\.w3\.org/)[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.I)


def test_templates_exist_to_be_checked():
    names = {p.relative_to(PACKAGE).as_posix() for p in _templates()}
    assert "templates/base.html" in names


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        (INLINE_SCRIPT, "inline <script>"),
        (INLINE_STYLE_BLOCK, "<style> block"),
        (STYLE_ATTRIBUTE, "style= attribute"),
        (EVENT_HANDLER, "inline event handler"),
        (JAVASCRIPT_URL, "javascript: URL"),
    ],
)
def test_no_template_has_inline_code(pattern, what):
    offenders = []
    for path in _templates():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not offenders, f"{what} breaks the CSP:\n" + "\n".join(offenders)


def _static_and_templates() -> list[Path]:
    static = [p for p in PACKAGE.glob("static/**/*") if p.is_file()]
    static += [p for p in PACKAGE.glob("*/static/**/*") if p.is_file()]
    return _templates() + sorted(static)


def test_no_template_or_static_file_references_an_external_url():
    offenders = []
    for path in _static_and_templates():
        if path.suffix.lower() in {".png", ".jpg", ".jpeg", ".gif", ".ico", ".woff", ".woff2", ".ttf"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if EXTERNAL_URL.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()[:120]}")
    assert not offenders, "external URLs (CDN or remote assets):\n" + "\n".join(offenders)


def test_external_url_pattern_catches_cdn_references():
    for sample in (
        '<script src="https://cdn.jsdelivr.net/npm/x.js"></script>',
        '<link href="//fonts.googleapis.com/css">',
        "@import url(http://example.com/a.css);",
    ):
        assert EXTERNAL_URL.search(sample), sample
    for sample in ('<svg xmlns="http://www.w3.org/2000/svg">', '<a href="/scores/">', "{% static 'a.css' %}"):
        assert not EXTERNAL_URL.search(sample), sample


# --- client address behind the load balancer ---------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("10.0.0.5", "203.0.113.9", "203.0.113.9"),  # through the balancer
        ("10.0.0.5", "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # client-chosen entries to the left
        ("10.0.0.5", "203.0.113.9, 10.0.0.7", "203.0.113.9"),  # two trusted hops
        ("203.0.113.50", "198.51.100.1", "203.0.113.50"),  # direct client: header ignored
        ("10.0.0.5", "not-an-ip", "10.0.0.5"),
        ("10.0.0.5", "10.0.0.6", "10.0.0.5"),  # only proxies in the chain
    ],
)
def test_client_address_trusts_only_configured_proxies(remote, forwarded, expected):
    from zikao.core.middleware import client_address, parse_networks

    assert client_address(remote, forwarded, parse_networks(["10.0.0.0/8"])) == expected


@pytest.mark.django_db
def test_middleware_sets_remote_addr_only_behind_trusted_proxy(settings):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from zikao.core.middleware import ClientAddressMiddleware

    seen = {}

    def view(request):
        seen["addr"] = request.META["REMOTE_ADDR"]
        return HttpResponse()

    settings.ZIKAO_TRUSTED_PROXIES = ["127.0.0.1"]
    middleware = ClientAddressMiddleware(view)
    middleware(RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"))
    assert seen["addr"] == "203.0.113.9"
    middleware(RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9"))
    assert seen["addr"] == "192.0.2.1"


def test_middleware_is_off_without_trusted_proxies(settings):
    from django.core.exceptions import MiddlewareNotUsed

    from zikao.core.middleware import ClientAddressMiddleware

    settings.ZIKAO_TRUSTED_PROXIES = []
    with pytest.raises(MiddlewareNotUsed):
        ClientAddressMiddleware(lambda request: None)
