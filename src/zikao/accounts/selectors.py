"""Reads of candidate sign-in state (sessions, tokens, identifiers)."""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet

from zikao.accounts.models import ApiToken, CandidateAccount
from zikao.accounts.rules import Identifier
from zikao.candidates.models import Candidate
from zikao.core import clock
from zikao.core.identity import IdType


def token_digest(raw: str) -> str:
    """SHA-256 of a bearer token: tokens are 256-bit random, so a plain digest is enough."""
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


def candidates_by_id_number(number: str) -> QuerySet[Candidate]:
    """Open records holding this document number (any document type).

    Filtering on every id_type and excluding merged records lets the database use the partial
    unique index (id_type, id_number) WHERE status <> 'merged' instead of scanning the table.
    """
    return (
        Candidate.objects.filter(id_type__in=IdType.values, id_number=number)
        .exclude(status=Candidate.Status.MERGED)
        .order_by("pk")
    )


def candidate_for_sign_in(identifier: Identifier) -> Candidate | None:
    """The open record a sign-in identifier names (candidate number or document number), or None."""
    if identifier.kind == "candidate_no":
        qs = Candidate.objects.filter(candidate_no=identifier.value).exclude(status=Candidate.Status.MERGED)
    else:
        qs = candidates_by_id_number(identifier.value)
    return qs.select_related("account").first()


def account_of(candidate: Candidate) -> CandidateAccount | None:
    """The candidate's account row, or None while the first password (birth date) is in force."""
    try:
        return candidate.account
    except CandidateAccount.DoesNotExist:
        return None


def candidate_for_session(candidate_id: object, epoch: object) -> Candidate | None:
    """The candidate of a portal session, if the session is still valid (same epoch, not locked).

    One query: the account row comes along. None for a missing, merged or locked record, or
    an epoch that a password change or lock has moved past.
    """
    if not isinstance(candidate_id, int) or not isinstance(epoch, int):
        return None
    candidate = (
        Candidate.objects.filter(pk=candidate_id)
        .exclude(status=Candidate.Status.MERGED)
        .select_related("account", "county_office")
        .first()
    )
    if candidate is None:
        return None
    account = account_of(candidate)
    if account is None or account.session_epoch != epoch:
        return None
    if account.locked_until is not None and account.locked_until > clock.now():
        return None
    return candidate


def token_lookup(raw: str) -> ApiToken | None:
    """The live token for this bearer string (not revoked, not expired, current epoch), or None."""
    if not raw or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.filter(key_digest=token_digest(raw), revoked_at__isnull=True)
        .select_related("candidate", "candidate__account", "candidate__county_office")
        .first()
    )
    if token is None:
        return None
    now = clock.now()
    if token.expires_at <= now or token.candidate.status == Candidate.Status.MERGED:
        return None
    account = account_of(token.candidate)
    if account is None or account.session_epoch != token.session_epoch:
        return None
    if account.locked_until is not None and account.locked_until > now:
        return None
    return token
