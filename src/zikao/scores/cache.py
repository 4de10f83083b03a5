"""The release-hour cache: a snapshot of what one candidate may see, that can never go stale.

`candidate_score_snapshot` is what the busiest pages and endpoints ("my latest scores", the
scores of a sitting, all scores) read. It holds the output of the one read path
(`scores.selectors.candidate_visible_scores` and `sitting_release`) for one candidate at one
instant, and is served again only while that output cannot have changed:

* **Time.** A snapshot records the interval [`valid_from`, `valid_until`) between the release
  instants (`Sitting.effective_release_at`) of the sittings the candidate has entries or scores
  in. It is used only while `core.clock.now()` is inside that interval, so the first request at
  or after a release instant recomputes from the database: nothing is early, nothing is late,
  whatever the cache timeout (which only frees memory) and also under a frozen clock (tests,
  staff preview "as of").
* **Data.** The cache key is fixed per candidate, and the snapshot carries two version tokens
  it was computed under: the candidate's data version (bumped after commit by every score
  write: record, correct, withhold) and the global release version (bumped after commit when a
  sitting is published early, its release time moves, or anything else that changes visibility
  for everyone). A snapshot whose tokens differ from the current ones is ignored. Tokens are
  random, so an evicted token can never come back with an old snapshot's value.

A hit is one cache round trip (`get_many` of the two tokens and the snapshot) and no database
query. `candidate_score_rendered` caches what a page or endpoint renders from the snapshot (HTML
fragment, JSON bytes) under the snapshot's own stamp, so it is valid exactly when the snapshot
is, and reads it in that same round trip.

Redis (`REDIS_URL`) shares snapshots across web processes; tokens are stored without timeout.
Changes made behind the services' back (raw `update()`, a rebuilt database behind a living
Redis) are seen when the snapshot's interval ends or its timeout expires
(`ZIKAO_SCORE_CACHE_SECONDS`, default 300 s); rebuilding the database needs a cache flush.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.entries.models import Entry
from zikao.scores.models import Score
from zikao.scores.selectors import VisibleScore, candidate_visible_scores, sitting_release

T = TypeVar("T")

_PREFIX = "zikao:scores:v1"
RELEASES_VERSION_KEY = f"{_PREFIX}:releases"


def _candidate_version_key(candidate_id: int) -> str:
    return f"{_PREFIX}:cv:{candidate_id}"


def _snapshot_key(candidate_id: int) -> str:
    return f"{_PREFIX}:snap:{candidate_id}"


def snapshot_max_seconds() -> int:
    return int(getattr(settings, "ZIKAO_SCORE_CACHE_SECONDS", 300))


@dataclass(frozen=True)
class CandidateSitting:
    """A sitting the candidate entered (or has visible scores in), and whether it is released."""

    label: str
    release_at: datetime | None
    released: bool


@dataclass(frozen=True)
class ScoreSnapshot:
    """What one candidate may see at `computed_at`, valid for instants in [valid_from, valid_until)."""

    candidate_id: int
    computed_at: datetime
    valid_from: datetime | None
    valid_until: datetime | None
    sittings: tuple[CandidateSitting, ...]  # newest first
    scores: tuple[VisibleScore, ...]  # by sitting then course; credit without a sitting last

    def valid_at(self, instant: datetime) -> bool:
        if self.valid_from is not None and instant < self.valid_from:
            return False
        return self.valid_until is None or instant < self.valid_until

    def sitting(self, label: str) -> CandidateSitting | None:
        """The candidate's sitting with this label, or None (not theirs, or no such sitting)."""
        for sitting in self.sittings:
            if sitting.label == label:
                return sitting
        return None

    def scores_of(self, label: str) -> list[VisibleScore]:
        return [s for s in self.scores if s.sitting == label]

    @property
    def latest_released(self) -> CandidateSitting | None:
        """The newest released sitting of the candidate (the dashboard's "latest scores")."""
        return next((s for s in self.sittings if s.released), None)

    @property
    def pending(self) -> tuple[CandidateSitting, ...]:
        """The candidate's sittings whose scores are not released yet, newest first."""
        return tuple(s for s in self.sittings if not s.released)


def _new_token() -> str:
    return secrets.token_hex(8)


def _bump(key: str) -> None:
    cache.set(key, _new_token(), timeout=None)


def candidate_scores_changed(candidate_id: int) -> None:
    """Invalidate the candidate's snapshot once the current transaction commits.

    Called by every score write (scores.services: score_record, score_correct); call it from
    any new write that changes a candidate's scores or their status (withholding, voiding).
    """
    transaction.on_commit(lambda: _bump(_candidate_version_key(candidate_id)))


def releases_changed() -> None:
    """Invalidate every snapshot once the current transaction commits.

    Call it wherever a sitting's release time or publication changes (scores.publication), or
    anything else that changes what every candidate may see (pass mark, course names).
    """
    transaction.on_commit(lambda: _bump(RELEASES_VERSION_KEY))


def _token(key: str, current: str | None) -> str:
    if current is not None:
        return current
    cache.add(key, _new_token(), timeout=None)
    token = cache.get(key)
    # Between add and get the key can only have been bumped (another fresh token) or evicted;
    # either way a token nobody else holds is safe: the snapshot is then simply not reused.
    return token if token is not None else _new_token()


def _compute(candidate, instant: datetime) -> ScoreSnapshot:
    scores = candidate_visible_scores(candidate, at=instant)
    # The candidate's sittings: confirmed entries (they know they sat) plus sittings of
    # visible scores. Never the sitting of a score that is not visible.
    entered = Sitting.objects.filter(
        entries__candidate=candidate, entries__status=Entry.Status.CONFIRMED
    ).distinct()
    shown = {s.label: s for s in entered}
    visible_labels = {s.sitting for s in scores if s.sitting} - set(shown)
    if visible_labels:
        shown.update({s.label: s for s in Sitting.objects.filter(label__in=visible_labels)})
    sittings = []
    for label in sorted(shown, reverse=True):
        release = sitting_release(shown[label], at=instant)
        sittings.append(CandidateSitting(label, release.release_at, release.released))
    # Every release instant that can change this candidate's visible set: sittings entered or
    # holding any score row of the candidate (visible or not). Used for the interval only.
    relevant = Sitting.objects.filter(
        Q(pk__in=Score.objects.filter(candidate=candidate, sitting__isnull=False).values("sitting_id"))
        | Q(pk__in=[s.pk for s in shown.values()])
    ).only("release_at", "published_at")
    instants = [t for t in (s.effective_release_at for s in relevant) if t is not None]
    return ScoreSnapshot(
        candidate_id=candidate.pk,
        computed_at=instant,
        valid_from=max((t for t in instants if t <= instant), default=None),
        valid_until=min((t for t in instants if t > instant), default=None),
        sittings=tuple(sittings),
        scores=tuple(scores),
    )


def _fragment_key(candidate_id: int, variant: str) -> str:
    digest = hashlib.sha256(variant.encode("utf-8")).hexdigest()[:32]
    return f"{_PREFIX}:frag:{candidate_id}:{digest}"


def _timeout_for(snapshot: ScoreSnapshot, instant: datetime) -> int:
    timeout = snapshot_max_seconds()
    if snapshot.valid_until is not None:
        timeout = max(1, min(timeout, math.ceil((snapshot.valid_until - instant).total_seconds())))
    return timeout


def _snapshot(candidate, extra_keys: tuple[str, ...] = ()) -> tuple[ScoreSnapshot, tuple, dict]:
    """The snapshot, the stamp it is valid under (tokens + its interval and instant of
    computation) and the values of `extra_keys`, read in the same cache round trip."""
    instant = clock.now()
    version_key = _candidate_version_key(candidate.pk)
    snapshot_key = _snapshot_key(candidate.pk)
    found = cache.get_many([RELEASES_VERSION_KEY, version_key, snapshot_key, *extra_keys])
    stored = found.get(snapshot_key)
    releases = found.get(RELEASES_VERSION_KEY)
    version = found.get(version_key)
    if (
        stored is not None
        and releases is not None
        and version is not None
        and stored[0] == releases
        and stored[1] == version
        and stored[2].candidate_id == candidate.pk
        and stored[2].valid_at(instant)
    ):
        return stored[2], _stamp(releases, version, stored[2]), found
    # Tokens are read before the database: a write committing meanwhile bumps them afterwards,
    # so a snapshot computed from pre-commit data is filed under a token that is already dead.
    releases = _token(RELEASES_VERSION_KEY, releases)
    version = _token(version_key, version)
    snapshot = _compute(candidate, instant)
    cache.set(snapshot_key, (releases, version, snapshot), timeout=_timeout_for(snapshot, instant))
    return snapshot, _stamp(releases, version, snapshot), found


def _stamp(releases: str, version: str, snapshot: ScoreSnapshot) -> tuple:
    return (
        releases,
        version,
        snapshot.candidate_id,
        snapshot.computed_at,
        snapshot.valid_from,
        snapshot.valid_until,
    )


def candidate_score_snapshot(candidate) -> ScoreSnapshot:
    """The candidate's visible scores and sittings now: from the cache when still exact, else
    computed through scores.selectors and stored. Never shows what the selectors would not."""
    return _snapshot(candidate)[0]


def candidate_score_rendered(candidate, variant: str, render: Callable[[ScoreSnapshot], T]) -> T:
    """`render(snapshot)` of the candidate's current snapshot, cached exactly as long as that
    snapshot is (a rendered page fragment, JSON bytes of an endpoint).

    `render` must depend on nothing but the snapshot and what `variant` names (page or
    endpoint, language, time zone, URL prefix, the candidate's displayed name and number...).
    The stored value carries the stamp of the snapshot it was rendered from (both version
    tokens, the candidate, the instant of computation and the validity interval) and is used
    only when the snapshot served now has the very same stamp: any score write, release change
    or release instant that replaces the snapshot makes the rendered value unusable at once.
    Still one cache round trip on a hit."""
    key = _fragment_key(candidate.pk, variant)
    snapshot, stamp, found = _snapshot(candidate, (key,))
    stored = found.get(key)
    if stored is not None and stored[0] == stamp:
        return stored[1]
    value = render(snapshot)
    cache.set(key, (stamp, value), timeout=_timeout_for(snapshot, clock.now()))
    return value
