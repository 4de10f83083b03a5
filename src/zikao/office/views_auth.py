"""Staff sign-in (password, then TOTP) and sign-out. Being built: see issue 4."""

from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST


def login(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return redirect("office:login")
