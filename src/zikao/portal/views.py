"""Candidate portal pages. Thin: parse input, call selectors/services, render."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from zikao.catalog.selectors import sittings_overview


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {"sittings": sittings_overview(limit=4)})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness + database reachability, for the load balancer and `make run` tests."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
