"""The JSON API for the mobile channel (django-ninja), OpenAPI at /api/docs.

Errors are always `{"code", "message", "fields"}` with a fitting HTTP status, and use the same
stable codes as the pages (DomainError codes from the domain layer).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from zikao.core.errors import DomainError

api = NinjaAPI(
    title="zikao API",
    version="1",
    description="高等教育自学考试考生自助服务 API (mobile channel). Errors: {code, message, fields}.",
    urls_namespace="api",
    docs_url="/docs",
)


def _error(
    request: HttpRequest, status: int, code: str, message: str, fields: dict | None = None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "fields": fields or {}}, status=status
    )


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    response = _error(request, exc.status, exc.code, str(exc.message), exc.fields)
    retry_after = exc.fields.get("retry_after") if isinstance(exc.fields, dict) else None
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    from django.utils.translation import gettext as _

    fields: dict[str, str] = {}
    for err in exc.errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "payload")]
        fields[".".join(loc) or "_"] = str(err.get("msg", ""))
    return _error(request, 422, "INVALID_INPUT", _("输入有误，请检查后重试。"), fields)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    from django.utils.translation import gettext as _

    return _error(request, 401, "NOT_AUTHENTICATED", _("请先登录。"))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, "HTTP_ERROR", str(exc))


api.add_router("/me", "zikao.api.routers.records.router", tags=["records (成绩与考籍)"])
api.add_router("/auth", "zikao.api.routers.auth.router", tags=["auth (登录与账户)"])
api.add_router("/me", "zikao.api.routers.auth.me_router", tags=["account (个人信息)"])
api.add_router("/me/entries", "zikao.api.routers.entries.router", tags=["entries (报考)"])
api.add_router("/me/payments", "zikao.api.routers.payments.router", tags=["payments (缴费)"])
api.add_router("/registration", "zikao.api.routers.registration.router", tags=["registration (新生报名)"])
