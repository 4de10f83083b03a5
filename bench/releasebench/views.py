"""The two yardsticks of bench/release_hour.py. Bench only: never part of the product's URLs.

* `trivial`: the cheapest Django answer through the full production middleware stack.
* `naive_latest`: "my latest scores" written the obvious way, with no caching: read the
  session, load the candidate and account from the database, query the visible scores through
  the one read path (`scores.selectors.candidate_visible_scores`), pick the newest sitting,
  render a template. The real page (`portal:dashboard`) must beat it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from zikao.accounts.models import CandidateAccount
from zikao.candidates.models import Candidate
from zikao.portal.auth import SESSION_KEY
from zikao.scores.selectors import candidate_visible_scores


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


def naive_latest(request: HttpRequest) -> HttpResponse:
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return HttpResponseRedirect("/login/")
    candidate = Candidate.objects.filter(pk=data.get("id")).first()
    account = CandidateAccount.objects.filter(candidate_id=data.get("id")).first()
    if candidate is None or account is None or account.session_epoch != data.get("epoch"):
        return HttpResponseRedirect("/login/")
    scores = [s for s in candidate_visible_scores(candidate) if s.sitting]
    latest = max((s.sitting for s in scores), default=None)
    rows = [s for s in scores if s.sitting == latest]
    response = render(
        request, "releasebench/naive_latest.html", {"candidate": candidate, "latest": latest, "rows": rows}
    )
    response["Cache-Control"] = "private, no-store"
    return response
