"""The candidate's record pages (个人空间): latest scores, scores by sitting, all scores, passed
courses, the record (考籍档案) and graduation progress (毕业预测).

Thin: every page reads through `portal.selectors` (which reads through `scores.selectors`, the
release-hour cache `scores.cache`, `candidates.selectors` and `graduation.selectors`). Nothing
here decides visibility. No id in any URL but a sitting label; a label that is not the
candidate's gets exactly the page a nonexistent one gets.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from itertools import groupby

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import translation
from django.utils.safestring import SafeString
from django.utils.timezone import get_current_timezone_name
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_GET

from zikao.accounts.session_cache import Prefetch
from zikao.candidates.selectors import candidate_record
from zikao.core.errors import NotFound
from zikao.portal.auth import candidate_required, masked_csrf_token
from zikao.portal.presenters import credits_number, method_label, result_text, status_label
from zikao.portal.selectors import (
    candidate_passed_summary,
    candidate_progress_reports,
    candidate_sitting_scores,
)
from zikao.scores.cache import (
    Prerendered,
    ScoreSnapshot,
    candidate_score_rendered,
    candidate_score_snapshot,
    register_prerenderer,
    rendered_prefetch,
)


@lru_cache(maxsize=128)
def _nav_fragment(language: str, prefix: str, current: str) -> SafeString:
    return render_to_string("portal/records/_nav.html", {"nav": current})


def _page(request: HttpRequest, template: str, nav: str, context: dict, status: int = 200) -> HttpResponse:
    """Render a record page. The navigation (six reversed URLs, translated labels) is the same
    for every candidate, so it is rendered once per language and page and reused: the release
    hour's "my latest scores" stays cheap to render."""
    context["nav_html"] = _nav_fragment(get_language() or "", get_script_prefix(), nav)
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


def _rows(scores) -> list[dict]:
    """Score rows as the tables show them (labels resolved once, in the active language)."""
    passed_yes, passed_no = gettext("合格"), gettext("不合格")
    return [
        {
            "code": s.course_code,
            "name": s.course_name,
            "sitting": s.sitting,
            "result": result_text(value=s.value, grade=s.grade, status=s.status),
            "passed": s.passed,
            "passed_label": passed_yes if s.passed else passed_no,
            "method": method_label(s.method),
            "status": status_label(s.status),
            "status_code": s.status,
            "credits": credits_number(s.credits),
        }
        for s in scores
    ]


def _not_found(request: HttpRequest, error: NotFound) -> HttpResponse:
    return _page(
        request,
        "portal/records/not_found.html",
        "",
        {"code": error.code, "message": error.message},
        status=404,
    )


def _dashboard_key_variant(request: HttpRequest) -> str:
    """What the cached dashboard depends on that is known before the sign-in check: language,
    time zone, URL prefix and path (whole page) or only the content (with a query string).
    Computed once per request (the sign-in check's prefetch and the view both need it)."""
    known = getattr(request, "_zikao_dashboard_variant", None)
    if known is not None:
        return known
    kind = "content" if request.GET else f"page\x1f{request.path}"
    parts = ("dashboard", get_language() or "", get_current_timezone_name(), get_script_prefix(), kind)
    variant = "\x1f".join(parts)
    request._zikao_dashboard_variant = variant  # type: ignore[attr-defined]
    return variant


def _dashboard_prefetch(request: HttpRequest) -> Prefetch:
    fixed, templates = rendered_prefetch(_dashboard_key_variant(request))
    return Prefetch(tuple(fixed), tuple(templates))


def _dashboard_content(candidate, snapshot: ScoreSnapshot) -> SafeString:
    """The candidate-specific part: latest released sitting's scores and what is pending."""
    latest = snapshot.latest_released
    context = {
        "nav_html": _nav_fragment(get_language() or "", get_script_prefix(), "dashboard"),
        "candidate": candidate,
        "latest": latest,
        "rows": _rows(snapshot.scores_of(latest.label)) if latest else [],
        "pending": snapshot.pending,
    }
    return render_to_string("portal/records/_dashboard_content.html", context)


def _dashboard_page(request: HttpRequest, candidate, snapshot: ScoreSnapshot) -> tuple[bytes, bytes]:
    """The whole page (UTF-8), with a marker where each request's own CSRF token goes.
    Everything else it shows is named by the variant (language, path, name and number)."""
    marker = secrets.token_hex(16)
    context = {"content_html": _dashboard_content(candidate, snapshot), "csrf_token": marker}
    page = render_to_string("portal/records/dashboard.html", context, request=request)
    return page.encode(), marker.encode()


@require_GET
@candidate_required(prefetch=_dashboard_prefetch)
def dashboard(request: HttpRequest) -> HttpResponse:
    """个人空间 home: the latest released sitting's scores, what is pending, quick links.

    The release hour's busiest page. Rendered once per score snapshot (and language, time zone,
    URL prefix, path, displayed name and number) and cached with the snapshot's own validity
    (`scores.cache.candidate_score_rendered`): a score write, release change or release instant
    replaces it at once. Without a query string the whole page is cached (as bytes, with a
    marker where each request's own CSRF token is put in) and read in the same cache round trip
    as the sign-in check, so a hit renders nothing; with one, only the frame renders per
    request. `manage.py warm_release_snapshots` prepares the page of each candidate of a
    sitting before its release (`prerender_dashboard`)."""
    candidate = request.candidate  # type: ignore[attr-defined]  # built only on a miss
    state = request.zikao_session_state  # type: ignore[attr-defined]
    key_variant = _dashboard_key_variant(request)
    variant = "\x1f".join((key_variant, state.candidate_no, state.name))
    prefetched = getattr(request, "zikao_prefetched", None)
    if request.GET:  # a query string shows up in the page (language form): render the frame
        content = candidate_score_rendered(
            candidate,
            variant,
            lambda snapshot: _dashboard_content(candidate, snapshot),
            key_variant=key_variant,
            prefetched=prefetched,
            candidate_id=state.candidate_id,
        )
        return _page(request, "portal/records/dashboard.html", "dashboard", {"content_html": content})
    page, marker = candidate_score_rendered(
        candidate,
        variant,
        lambda snapshot: _dashboard_page(request, candidate, snapshot),
        key_variant=key_variant,
        prefetched=prefetched,
        candidate_id=state.candidate_id,
    )
    response = HttpResponse(page.replace(marker, masked_csrf_token(request).encode()))
    response["Cache-Control"] = "private, no-store"
    return response


@register_prerenderer("portal.dashboard")
def prerender_dashboard(candidate, snapshot: ScoreSnapshot) -> list[Prerendered]:
    """The dashboard page as a request without a query string in the default language would
    cache it (`warm_release`), rendered outside a request."""
    path = reverse("portal:dashboard")
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = path
    request.META = {"SERVER_NAME": "localhost", "SERVER_PORT": "443"}
    request.candidate = candidate  # type: ignore[attr-defined]
    with translation.override(settings.LANGUAGE_CODE):
        key_variant = _dashboard_key_variant(request)
        variant = "\x1f".join((key_variant, candidate.candidate_no, candidate.name))
        value = _dashboard_page(request, candidate, snapshot)
    return [Prerendered(key_variant, variant, value)]


@require_GET
@candidate_required
def scores(request: HttpRequest) -> HttpResponse:
    """成绩查询: choose a sitting (?sitting=YYYYMM) → its scores; unreleased: when, nothing else."""
    snapshot = candidate_score_snapshot(request.candidate)  # type: ignore[attr-defined]
    label = request.GET.get("sitting")
    if label is None:
        chosen = snapshot.latest_released or (snapshot.sittings[0] if snapshot.sittings else None)
        label = chosen.label if chosen else None
    selected = None
    if label is not None:
        try:
            selected = candidate_sitting_scores(request.candidate, label)  # type: ignore[attr-defined]
        except NotFound as error:
            return _not_found(request, error)
    context = {
        "sittings": snapshot.sittings,
        "selected": selected,
        "rows": _rows(selected.scores) if selected else [],
    }
    return _page(request, "portal/records/scores.html", "scores", context)


@require_GET
@candidate_required
def scores_all(request: HttpRequest) -> HttpResponse:
    """历次全部成绩: every visible score, grouped by sitting; credit without a sitting last."""
    snapshot = candidate_score_snapshot(request.candidate)  # type: ignore[attr-defined]
    groups = [
        {"sitting": sitting, "rows": _rows(list(rows))}
        for sitting, rows in groupby(snapshot.scores, key=lambda s: s.sitting)
    ]
    return _page(
        request,
        "portal/records/scores_all.html",
        "scores_all",
        {"groups": groups, "pending": snapshot.pending},
    )


@require_GET
@candidate_required
def passed(request: HttpRequest) -> HttpResponse:
    """已通过课程: written and practice courses separately, with totals of courses and credits."""
    summary = candidate_passed_summary(request.candidate)  # type: ignore[attr-defined]

    def rows(items):
        return [
            {
                "code": r.course_code,
                "name": r.course_name,
                "sitting": r.sitting,
                "result": result_text(value=r.value, grade=r.grade, status="valid"),
                "method": method_label(r.method),
                "credits": credits_number(r.credits),
            }
            for r in items
        ]

    context = {"summary": summary, "written": rows(summary.written), "practice": rows(summary.practice)}
    return _page(request, "portal/records/passed.html", "passed", context)


@require_GET
@candidate_required
def record(request: HttpRequest) -> HttpResponse:
    """考籍档案: identity (masked), majors and plans, and every section; empty sections say so."""
    data = candidate_record(request.candidate)  # type: ignore[attr-defined]
    return _page(
        request, "portal/records/record.html", "record", {"record": data, "rows": _rows(data.scores)}
    )


@require_GET
@candidate_required
def progress(request: HttpRequest) -> HttpResponse:
    """毕业预测: the plan engine's answer in plain words, both plan versions when they apply."""
    reports = candidate_progress_reports(request.candidate)  # type: ignore[attr-defined]
    return _page(request, "portal/records/progress.html", "progress", {"reports": reports})
