"""The sign-in check of every personal request, without a database query on a hit.

A portal session or API token names a candidate and carries the account's session epoch. To
check it, a request needs only a few fields: the candidate's id, number, name and status, and
the account's session epoch, must-change flag and lock. `session_state` returns them from the
Django cache, filed under a per-candidate version token exactly like the score snapshots of
`scores.cache`:

* The token is read before the database, the state is stored together with the token it was
  read under, and a state whose token differs from the current one is ignored.
* Every write of a candidate, account or API token row bumps the token at once and again when
  its transaction commits (`post_save`/`post_delete` signals below, so no service can forget
  it: sign-in success or failure, lock, password change or reset, profile change, merge). A
  session whose epoch a password change or lock has moved past is refused at its next request.
* Tokens are random and stored without timeout, so an evicted token can never come back with
  an old state's value. The lock (`locked_until`) is compared with `core.clock.now()` on every
  request, never cached as a yes/no.

API tokens (`token_lookup`) are cached the same way: the digest maps to the token row filed
under the candidate's version token, which every save of a token (issue, revoke) bumps too.

Writes made behind the models' back (`QuerySet.update()` of these tables, as
`accounts.services._revoke_tokens` does) must call `account_changed(candidate_id)` themselves;
rebuilding the database behind a living Redis needs a cache flush (as for `scores.cache`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from zikao.accounts.models import ApiToken, CandidateAccount
from zikao.accounts.selectors import token_digest
from zikao.candidates.models import Candidate
from zikao.core import clock

_PREFIX = "zikao:auth:v1"
_TIMEOUT = 3600  # seconds; only frees memory: validity comes from the version token


def _version_key(candidate_id: int) -> str:
    return f"{_PREFIX}:v:{candidate_id}"


def _state_key(candidate_id: int) -> str:
    return f"{_PREFIX}:s:{candidate_id}"


def _token_key(digest: str) -> str:
    return f"{_PREFIX}:t:{digest}"


@dataclass(frozen=True)
class SessionState:
    """What the sign-in check needs of one open (not merged) candidate record with an account."""

    candidate_id: int
    candidate_no: str
    name: str
    status: str
    session_epoch: int
    must_change_password: bool
    locked_until: datetime | None

    def accepts(self, epoch: object, now: datetime) -> bool:
        """Does a session or token issued under `epoch` still hold at `now`?"""
        if not isinstance(epoch, int) or epoch != self.session_epoch:
            return False
        return self.locked_until is None or self.locked_until <= now

    def candidate(self) -> Candidate:
        """A Candidate instance with the cached fields and the account attached.

        Other fields are deferred; the first access to any of them loads all of them in one
        query (not one query per field)."""
        candidate = _instance(
            Candidate,
            {
                "id": self.candidate_id,
                "candidate_no": self.candidate_no,
                "name": self.name,
                "status": self.status,
            },
        )
        account = _instance(
            CandidateAccount,
            {
                "candidate_id": self.candidate_id,
                "must_change_password": self.must_change_password,
                "locked_until": self.locked_until,
                "session_epoch": self.session_epoch,
            },
        )
        candidate.account = account
        return candidate


def _instance(model: Any, values: dict[str, Any]) -> Any:
    """A model instance as if loaded from the database with only `values` (by attname); the
    other fields are deferred and load together on first access."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    instance = model.from_db("default", names, [values[n] for n in names])
    _load_deferred_together(instance)
    return instance


def _load_deferred_together(instance: Any) -> None:
    model_refresh = type(instance).refresh_from_db

    def refresh_from_db(using=None, fields=None, from_queryset=None):
        deferred = instance.get_deferred_fields()
        if fields is not None and deferred and set(fields) <= deferred:
            fields = sorted(deferred)
        return model_refresh(instance, using=using, fields=fields, from_queryset=from_queryset)

    instance.refresh_from_db = refresh_from_db


def _new_token() -> str:
    return secrets.token_hex(8)


def _bump(candidate_id: int) -> None:
    cache.set(_version_key(candidate_id), _new_token(), timeout=None)


def account_changed(candidate_id: int) -> None:
    """Invalidate the cached sign-in state of the candidate now and once the transaction commits.

    The bump now makes the change visible at once to this transaction's own later reads (and to
    tests run inside one transaction); the bump after commit kills any state another request
    read from the database before the commit and filed under the intermediate token. A rolled
    back transaction only costs one cache miss."""
    _bump(candidate_id)
    transaction.on_commit(lambda: _bump(candidate_id))


def _load(candidate_id: int) -> SessionState | None:
    row = (
        Candidate.objects.filter(pk=candidate_id, account__isnull=False)
        .exclude(status=Candidate.Status.MERGED)
        .values_list(
            "candidate_no",
            "name",
            "status",
            "account__session_epoch",
            "account__must_change_password",
            "account__locked_until",
        )
        .first()
    )
    if row is None:
        return None
    return SessionState(candidate_id, *row)


def _current_version(version_key: str, current: str | None) -> str | None:
    if current is not None:
        return current
    cache.add(version_key, _new_token(), timeout=None)
    return cache.get(version_key)


def session_state(candidate_id: object) -> SessionState | None:
    """The sign-in state of an open candidate record with an account row, or None.

    One cache round trip on a hit; one query (and a cache write) otherwise."""
    if not isinstance(candidate_id, int) or isinstance(candidate_id, bool):
        return None
    version_key, state_key = _version_key(candidate_id), _state_key(candidate_id)
    found = cache.get_many([version_key, state_key])
    version, stored = found.get(version_key), found.get(state_key)
    if version is not None and stored is not None and stored[0] == version:
        return stored[1]
    # Read before the database: a write committing meanwhile bumps it afterwards.
    version = _current_version(version_key, version)
    state = _load(candidate_id)
    if version is not None:
        cache.set(state_key, (version, state), timeout=_TIMEOUT)
    return state


def session_candidate_for(candidate_id: object, epoch: object) -> Candidate | None:
    """The candidate of a session (id, epoch) if it still holds now, else None."""
    state = session_state(candidate_id)
    if state is None or not state.accepts(epoch, clock.now()):
        return None
    return state.candidate()


_TOKEN_FIELDS = ("id", "candidate_id", "session_epoch", "created_at", "expires_at", "revoked_at")


def _token_row(digest: str) -> tuple | None:
    return ApiToken.objects.filter(key_digest=digest).values_list(*_TOKEN_FIELDS).first()


def token_lookup(raw: str) -> ApiToken | None:
    """Same answer as `accounts.selectors.token_lookup` (live token: not revoked, not expired,
    current epoch, open record, not locked), without a query on a hit.

    The digest → candidate link of a token never changes; the token row is filed under the
    candidate's version token, read before the row is (re)read from the database."""
    if not raw or len(raw) > 200:
        return None
    digest = token_digest(raw)
    token_key = _token_key(digest)
    entry = cache.get(token_key)
    if entry is None:
        first = _token_row(digest)
        if first is None:
            return None  # unknown tokens are not cached: nothing to invalidate later
        candidate_id = first[1]
    else:
        candidate_id = entry[0]
    version_key, state_key = _version_key(candidate_id), _state_key(candidate_id)
    found = cache.get_many([version_key, state_key])
    version, stored = found.get(version_key), found.get(state_key)
    if entry is not None and version is not None and entry[1] == version:
        row = entry[2]
    else:
        version = _current_version(version_key, version)
        row = _token_row(digest)
        if version is not None:
            cache.set(token_key, (candidate_id, version, row), timeout=_TIMEOUT)
    if row is None or row[5] is not None:
        return None
    now = clock.now()
    if row[4] <= now:
        return None
    if version is not None and stored is not None and stored[0] == version:
        state = stored[1]
    else:
        state = session_state(candidate_id)
    if state is None or not state.accepts(row[2], now):
        return None
    token = _instance(ApiToken, {**dict(zip(_TOKEN_FIELDS, row, strict=True)), "key_digest": digest})
    token.candidate = state.candidate()
    return token


@receiver(post_save, sender=ApiToken, dispatch_uid="zikao.auth_cache.token_saved")
@receiver(post_delete, sender=ApiToken, dispatch_uid="zikao.auth_cache.token_deleted")
def _token_written(sender, instance: ApiToken, **kwargs: Any) -> None:
    account_changed(instance.candidate_id)


@receiver(post_save, sender=Candidate, dispatch_uid="zikao.auth_cache.candidate_saved")
@receiver(post_delete, sender=Candidate, dispatch_uid="zikao.auth_cache.candidate_deleted")
def _candidate_written(sender, instance: Candidate, **kwargs: Any) -> None:
    if instance.pk is not None:
        account_changed(instance.pk)


@receiver(post_save, sender=CandidateAccount, dispatch_uid="zikao.auth_cache.account_saved")
@receiver(post_delete, sender=CandidateAccount, dispatch_uid="zikao.auth_cache.account_deleted")
def _account_written(sender, instance: CandidateAccount, **kwargs: Any) -> None:
    account_changed(instance.candidate_id)
