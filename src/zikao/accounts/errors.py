"""Refusals of candidate sign-in, with their HTTP status (codes are stable, messages translatable)."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise

from zikao.accounts.rules import Problem
from zikao.core.errors import DomainError, ValidationFailed


class LoginFailed(DomainError):
    """Wrong identifier or password (one answer for both)."""

    status = 401


class AccountLocked(DomainError):
    status = 423


class PasswordChangeRequired(DomainError):
    status = 403


class TokenInvalid(DomainError):
    status = 401


class LookupNoMatch(DomainError):
    status = 404


class PasswordPolicyError(ValidationFailed):
    """The new password breaks one or more rules; `problems` lists each with its own message."""

    def __init__(self, problems: list[Problem], field: str = "new_password"):
        first = problems[0]
        fields: dict[str, Any] = {field: [p.code for p in problems]}
        super().__init__(first.code, first.message, fields)
        self.problems = problems
        self.field = field

    @property
    def messages(self) -> list[str | Promise]:
        return [p.message for p in self.problems]
