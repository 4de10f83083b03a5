"""The product's URLs plus the bench-only yardstick under /bench/."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def trivial(request: HttpRequest) -> HttpResponse:
    """The cheapest Django answer through the full production middleware stack."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial", trivial, name="bench-trivial"),
    path("", include("zikao.urls")),
]
