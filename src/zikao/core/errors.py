"""Domain errors with stable codes.

Every refusal the domain makes is a `DomainError` with a code (`PLAN_UNKNOWN_COURSE`), a
translatable message and the offending fields. Front doors turn it into a form error, a page
message, or `{"code", "message", "fields"}` in the API.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise


class DomainError(Exception):
    """A rule said no. Nothing has been written when this is raised."""

    status = 400

    def __init__(self, code: str, message: str | Promise, fields: dict[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = fields or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self.message), "fields": self.fields}


class NotFound(DomainError):
    """Missing, or not the caller's: both look the same from outside (no existence leaks)."""

    status = 404

    def __init__(self, message: str | Promise | None = None):
        from django.utils.translation import gettext_lazy as _

        super().__init__("NOT_FOUND", message or _("记录不存在。"))


class ValidationFailed(DomainError):
    """Input was malformed (an ID number with a wrong check character, a score of 101, …)."""

    status = 422
