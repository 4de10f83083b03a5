"""What every entry decision reads that changes rarely, kept in each web process.

Entering courses reads, besides the candidate's own record, data that the office changes a few
times a year: the sitting's timetable (course → slot), its slots and their labels, the offered
courses, the province policy (maximum courses, fee), the sitting's payment hold, and for the
plan engine each plan's inputs (`catalog.planstore.plan_context`: the plan, its substitution
tables, the politics rules). Reading them from the database on every request costs more than
the decision itself, so they are built once per process and reused while two version tokens
(in the Django cache, Redis in production: shared by every process) stay the same:

* the **catalog token** — the province policy, plans, substitution tables, politics rules and
  course names and kinds; bumped by `bust_policy` / `bust_catalog`;
* the score cache's **release token** (`scores.cache.releases_changed`: a release moved, or
  anything else every candidate sees changed — a course renamed, for one): reused, not copied;
* one **sitting token** per sitting — its timetable, slots and entry settings; bumped by
  `bust_sitting(sitting_id)`.

The services that change these call the bust functions (`catalog.services`: courses loaded,
plans, rules documents, sittings, the timetable, the province policy;
`entries.settings_services`: the payment hold) or `releases_changed` (a course renamed, a
sitting's release moved). A bust replaces the token at once (so the writing transaction, and a
test that never commits, reads the new data next) and again after commit (so a value another
process built from the data as it was before the commit is never used). Tokens are random and
read before the data is built: a value is filed under the tokens it was built under and used
only while they are current, so a bump during a build wastes that build, never shows old data.

Seat counters, the candidate's entries and passes, suspensions and the sitting's window are not
cached: they are read on every decision, under the candidate's lock.

Changes made behind the services' back (a raw `update()`, a rebuilt database behind a living
Redis) are seen after at most ZIKAO_ENTRY_CACHE_SECONDS (default 300) seconds. Values are shared
model instances: read them, never change them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

_PREFIX = "zikao:entries:v1"
CATALOG_KEY = f"{_PREFIX}:catalog"
_MAX_PLANS = 2000  # more plans than a province has; past it the memo starts afresh


def _sitting_key(sitting_id: int) -> str:
    return f"{_PREFIX}:sitting:{sitting_id}"


def max_age_seconds() -> float:
    return float(getattr(settings, "ZIKAO_ENTRY_CACHE_SECONDS", 300))


# --- tokens ----------------------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_hex(8)


def _bump(key: str) -> None:
    cache.set(key, _new_token(), timeout=None)


def _bump_now_and_after_commit(key: str) -> None:
    _bump(key)
    transaction.on_commit(lambda: _bump(key))


def bust_catalog() -> None:
    """The province policy, a plan, a substitution table, the politics rules or a course's name
    or kind changed: every process rebuilds what it keeps (now and once more after commit)."""
    _bump_now_and_after_commit(CATALOG_KEY)


def bust_policy() -> None:
    """The province policy (maximum courses per sitting, fee per course) changed."""
    bust_catalog()


def bust_sitting(sitting_id: int) -> None:
    """The sitting's timetable, slots or entry settings (payment hold) changed."""
    _bump_now_and_after_commit(_sitting_key(sitting_id))


@dataclass(frozen=True)
class Tokens:
    """The tokens current when a request started reading (one cache round trip)."""

    catalog: str
    releases: str
    sitting: str | None = None


def _ensure(key: str, found: Any) -> str:
    if isinstance(found, str):
        return found
    cache.add(key, _new_token(), timeout=None)
    token = cache.get(key)
    # Between add and get the key can only have been bumped or evicted: a token nobody holds
    # is then safe (what is built under it is simply not reused).
    return token if isinstance(token, str) else _new_token()


def read_tokens(sitting_id: int | None = None) -> Tokens:
    from zikao.scores.cache import RELEASES_VERSION_KEY

    keys = [CATALOG_KEY, RELEASES_VERSION_KEY]
    if sitting_id is not None:
        keys.append(_sitting_key(sitting_id))
    found = cache.get_many(keys)
    catalog = _ensure(CATALOG_KEY, found.get(CATALOG_KEY))
    releases = _ensure(RELEASES_VERSION_KEY, found.get(RELEASES_VERSION_KEY))
    if sitting_id is None:
        return Tokens(catalog, releases)
    return Tokens(catalog, releases, _ensure(keys[2], found.get(keys[2])))


# --- the process memo --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kept:
    stamp: tuple
    built_at: float  # time.monotonic()
    value: Any


_sittings: dict[int, _Kept] = {}
_plans: dict[int, _Kept] = {}
_lock = threading.Lock()


def _fresh(kept: _Kept | None, stamp: tuple, now: float) -> bool:
    return kept is not None and kept.stamp == stamp and now - kept.built_at < max_age_seconds()


def sitting_value(tokens: Tokens, sitting_id: int, build: Callable[[], T]) -> T:
    """The sitting's reference data: kept while the catalog and sitting tokens stand, else
    `build()` (from the database) and kept."""
    assert tokens.sitting is not None
    stamp = (tokens.catalog, tokens.releases, tokens.sitting)
    now = time.monotonic()
    kept = _sittings.get(sitting_id)
    if _fresh(kept, stamp, now):
        return kept.value  # type: ignore[union-attr]
    value = build()
    with _lock:
        _sittings[sitting_id] = _Kept(stamp, now, value)
    return value


def plan_values(
    tokens: Tokens, plan_ids: Iterable[int], build: Callable[[list[int]], dict[int, T]]
) -> list[T]:
    """One value per plan id (in order; ids `build` does not know are left out): kept while the
    catalog token stands, the missing ones built together by `build(ids)`."""
    ids = list(dict.fromkeys(plan_ids))
    now = time.monotonic()
    stamp = (tokens.catalog, tokens.releases)
    found: dict[int, T] = {}
    missing = []
    for pk in ids:
        kept = _plans.get(pk)
        if _fresh(kept, stamp, now):
            found[pk] = kept.value  # type: ignore[union-attr]
        else:
            missing.append(pk)
    if missing:
        built = build(missing)
        with _lock:
            if len(_plans) + len(built) > _MAX_PLANS:
                _plans.clear()
            for pk, value in built.items():
                _plans[pk] = _Kept(stamp, now, value)
        found.update(built)
    return [found[pk] for pk in ids if pk in found]
