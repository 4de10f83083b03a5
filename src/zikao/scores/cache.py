"""The release-hour cache: a snapshot of what one candidate may see, that can never go stale.

`candidate_score_snapshot` is what the busiest pages and endpoints ("my latest scores", the
scores of a sitting, all scores) read. It holds the output of the one read path
(`scores.selectors.candidate_visible_scores` and `sitting_release`) for one candidate at one
instant, and is served again only while that output cannot have changed:

* **Time.** A snapshot records the interval [`valid_from`, `valid_until`) between the release
  instants (`Sitting.effective_release_at`) of the sittings the candidate has entries or scores
  in. It is used only while `core.clock.now()` is inside that interval, so the first request at
  or after a release instant never uses a snapshot computed before it: nothing is early,
  nothing is late, whatever the cache timeout (which only frees memory) and also under a frozen
  clock (tests, staff preview "as of").
* **Data.** The snapshot carries two version tokens it was computed under: the candidate's
  data version (bumped after commit by every score write: record, correct, withhold) and the
  global release version (bumped after commit when a sitting is published early, its release
  time moves, or anything else that changes visibility for everyone). A snapshot whose tokens
  differ from the current ones is ignored. Tokens are random, so an evicted token can never
  come back with an old snapshot's value.

A hit is one cache round trip (`get_many` of the two tokens and the snapshot) and no database
query. `candidate_score_rendered` caches what a page or endpoint renders from the snapshot (HTML,
JSON bytes) under the snapshot's own stamp, so it is valid exactly when the snapshot is; a hit
needs neither the snapshot nor a rendering. Its keys can be read together with the sign-in check
(`rendered_prefetch`, used by `accounts.session_cache`): one round trip for a whole request.

**Pre-release warming** (`warm_release`, `manage.py warm_release_snapshots`). A sitting's scores
are known before its release instant T, so the snapshot and the renderings of each of its
candidates as of T can be computed beforehand. They are filed under "epoch" keys named after T
(the latest release instant of all sittings at or before the reading instant, from an
in-process schedule checked against the release version token), next to the ordinary keys. A
reader before T computes an earlier epoch and never looks at them; even if it did, their stamp
says valid from T. Any score write or release change after the warming bumps a token and kills
them exactly like ordinary entries. So the first view after T is a hit, and nothing shows early.

Redis (`REDIS_URL`) shares snapshots across web processes; tokens are stored without timeout.
Changes made behind the services' back (raw `update()`, a rebuilt database behind a living
Redis) are seen when the snapshot's interval ends or its timeout expires
(`ZIKAO_SCORE_CACHE_SECONDS`, default 300 s); rebuilding the database needs a cache flush.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.entries.models import Entry
from zikao.scores.models import Score
from zikao.scores.selectors import VisibleScore, candidate_visible_scores, sitting_release

T = TypeVar("T")

_PREFIX = "zikao:scores:v1"
RELEASES_VERSION_KEY = f"{_PREFIX}:releases"
CID = "{cid}"  # placeholder for the candidate id in key templates (rendered_prefetch)


def _candidate_version_key(candidate_id: int | str) -> str:
    return f"{_PREFIX}:cv:{candidate_id}"


def _snapshot_key(candidate_id: int | str, epoch: int | None = None) -> str:
    """The candidate's snapshot; with `epoch`, the one warmed for that release epoch."""
    if epoch is None:
        return f"{_PREFIX}:snap:{candidate_id}"
    return f"{_PREFIX}:snap:{candidate_id}:e{epoch}"


def _fragment_key(candidate_id: int | str, variant: str, epoch: int | None = None) -> str:
    digest = hashlib.sha256(variant.encode("utf-8")).hexdigest()[:32]
    if epoch is None:
        return f"{_PREFIX}:frag:{candidate_id}:{digest}"
    return f"{_PREFIX}:frag:{candidate_id}:{digest}:e{epoch}"


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


# A stamp names exactly what a snapshot (and anything rendered from it) is valid under:
# (release token, candidate token, candidate id, computed_at, valid_from, valid_until).
Stamp = tuple


def _stamp(releases: str, version: str, snapshot: ScoreSnapshot) -> Stamp:
    return (
        releases,
        version,
        snapshot.candidate_id,
        snapshot.computed_at,
        snapshot.valid_from,
        snapshot.valid_until,
    )


def _stamp_holds(stamp: Any, releases: Any, version: Any, candidate_id: int, instant: datetime) -> bool:
    """Was `stamp` issued under the current tokens, for this candidate, and valid at `instant`?"""
    if not isinstance(stamp, tuple) or len(stamp) != 6 or releases is None or version is None:
        return False
    if stamp[0] != releases or stamp[1] != version or stamp[2] != candidate_id:
        return False
    valid_from, valid_until = stamp[4], stamp[5]
    if valid_from is not None and instant < valid_from:
        return False
    return valid_until is None or instant < valid_until


def _new_token() -> str:
    return secrets.token_hex(8)


def _bump(key: str) -> None:
    cache.set(key, _new_token(), timeout=None)


def candidate_scores_changed(candidate_id: int) -> None:
    """Invalidate the candidate's snapshot once the current transaction commits.

    Called by every score write (scores.services: score_record, score_correct); call it from
    any new write that changes a candidate's scores or their status (withholding, voiding).
    Also kills what `warm_release` prepared for the candidate.
    """
    transaction.on_commit(lambda: _bump(_candidate_version_key(candidate_id)))


def releases_changed() -> None:
    """Invalidate every snapshot once the current transaction commits.

    Call it wherever a sitting's release time or publication changes (scores.publication), or
    anything else that changes what every candidate may see (pass mark, course names).
    Also kills everything `warm_release` prepared.
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


# --- release epochs (where warmed entries are filed) ------------------------------------------


@dataclass(frozen=True)
class _Schedule:
    token: str | None  # the release token it was read under
    instants: tuple[float, ...]  # every sitting's effective release instant (POSIX), sorted


_schedule = _Schedule(None, ())
_schedule_lock = threading.Lock()


def _release_instants() -> tuple[float, ...]:
    rows = Sitting.objects.values_list("release_at", "published_at")
    found = {min(t for t in pair if t is not None).timestamp() for pair in rows if any(pair)}
    return tuple(sorted(found))


def _current_schedule(releases: str | None) -> _Schedule:
    """The schedule of release instants, reloaded when the release token moved on.

    Only chooses where warmed entries are looked for: a stale schedule costs a miss, never a
    wrong answer (every entry is checked against its own stamp)."""
    global _schedule
    schedule = _schedule
    if releases is not None and schedule.token == releases:
        return schedule
    with _schedule_lock:
        # Token first, then the database: a change committing meanwhile bumps it afterwards.
        token = _token(RELEASES_VERSION_KEY, releases)
        _schedule = schedule = _Schedule(token, _release_instants())
    return schedule


def _epoch(schedule: _Schedule, instant: datetime) -> int:
    """The latest release instant (whole seconds) at or before `instant`; 0 before the first."""
    position = bisect.bisect_right(schedule.instants, instant.timestamp())
    return int(schedule.instants[position - 1]) if position else 0


# --- computing ---------------------------------------------------------------------------------


def _compute(candidate, instant: datetime) -> ScoreSnapshot:
    return _compute_many([candidate], instant)[0]


def _compute_many(candidates: list, instant: datetime) -> list[ScoreSnapshot]:
    """The snapshots of `candidates` at `instant`: their visible scores from the one read path
    (`candidate_visible_scores`, one call per candidate), and their sittings and release
    instants read for all of them at once (the warming's batches, or one candidate)."""
    ids = [c.pk for c in candidates]
    sittings = {s.pk: s for s in Sitting.objects.only("label", "release_at", "published_at")}
    by_label = {s.label: s for s in sittings.values()}
    entered: dict[int, set[int]] = {pk: set() for pk in ids}
    for candidate_id, sitting_id in (
        Entry.objects.filter(candidate_id__in=ids, status=Entry.Status.CONFIRMED)
        .values_list("candidate_id", "sitting_id")
        .distinct()
    ):
        entered[candidate_id].add(sitting_id)
    scored: dict[int, set[int]] = {pk: set() for pk in ids}
    for candidate_id, sitting_id in (
        Score.objects.filter(candidate_id__in=ids, sitting__isnull=False)
        .values_list("candidate_id", "sitting_id")
        .distinct()
    ):
        scored[candidate_id].add(sitting_id)
    snapshots = []
    for candidate in candidates:
        scores = candidate_visible_scores(candidate, at=instant)
        # The candidate's sittings: confirmed entries (they know they sat) plus sittings of
        # visible scores. Never the sitting of a score that is not visible.
        shown = {sittings[pk].label: sittings[pk] for pk in entered[candidate.pk]}
        for label in {s.sitting for s in scores if s.sitting} - set(shown):
            shown[label] = by_label[label]
        listed = []
        for label in sorted(shown, reverse=True):
            release = sitting_release(shown[label], at=instant)
            listed.append(CandidateSitting(label, release.release_at, release.released))
        # Every release instant that can change this candidate's visible set: sittings entered
        # or holding any score row of the candidate (visible or not). For the interval only.
        relevant = {sittings[pk] for pk in scored[candidate.pk]} | set(shown.values())
        instants = [t for t in (s.effective_release_at for s in relevant) if t is not None]
        snapshots.append(
            ScoreSnapshot(
                candidate_id=candidate.pk,
                computed_at=instant,
                valid_from=max((t for t in instants if t <= instant), default=None),
                valid_until=min((t for t in instants if t > instant), default=None),
                sittings=tuple(listed),
                scores=tuple(scores),
            )
        )
    return snapshots


def _timeout_for(snapshot: ScoreSnapshot, instant: datetime, hold: int | None = None) -> int:
    """Seconds to keep an entry computed at `instant`: until its interval ends, at most
    ZIKAO_SCORE_CACHE_SECONDS (or `hold` seconds past `valid_from` for a warmed entry)."""
    if hold is None:
        timeout = snapshot_max_seconds()
    else:
        start = snapshot.valid_from or instant
        timeout = max(1, math.ceil((start - instant).total_seconds())) + hold
    if snapshot.valid_until is not None:
        timeout = max(1, min(timeout, math.ceil((snapshot.valid_until - instant).total_seconds())))
    return timeout


def _stored_snapshot(stored: Any, releases: Any, version: Any, candidate_id: int, instant: datetime):
    if isinstance(stored, tuple) and len(stored) == 3 and isinstance(stored[2], ScoreSnapshot):
        snapshot = stored[2]
        if _stamp_holds(_stamp(stored[0], stored[1], snapshot), releases, version, candidate_id, instant):
            return snapshot
    return None


def _snapshot(
    candidate, instant: datetime, found: Mapping[str, Any] | None = None
) -> tuple[ScoreSnapshot, Stamp]:
    """The snapshot valid at `instant` and its stamp: the ordinary entry, the one warmed for
    the current epoch, or computed now (and stored). `found` may hold the tokens (read in an
    earlier round trip of the same request); what it lacks is read in one round trip."""
    version_key = _candidate_version_key(candidate.pk)
    found = dict(found or {})
    if RELEASES_VERSION_KEY not in found or version_key not in found:
        found.update(cache.get_many([RELEASES_VERSION_KEY, version_key]))
        found.setdefault(RELEASES_VERSION_KEY, None)
        found.setdefault(version_key, None)
    releases, version = found[RELEASES_VERSION_KEY], found[version_key]
    keys = [_snapshot_key(candidate.pk)]
    if releases is not None:
        keys.append(_snapshot_key(candidate.pk, _epoch(_current_schedule(releases), instant)))
    stored = cache.get_many(keys)
    for key in keys:
        snapshot = _stored_snapshot(stored.get(key), releases, version, candidate.pk, instant)
        if snapshot is not None:
            return snapshot, _stamp(releases, version, snapshot)
    # Tokens are read before the database: a write committing meanwhile bumps them afterwards,
    # so a snapshot computed from pre-commit data is filed under a token that is already dead.
    releases = _token(RELEASES_VERSION_KEY, releases)
    version = _token(version_key, version)
    _current_schedule(releases)  # loaded now, so that the next hit needs no query
    snapshot = _compute(candidate, instant)
    cache.set(keys[0], (releases, version, snapshot), timeout=_timeout_for(snapshot, instant))
    return snapshot, _stamp(releases, version, snapshot)


def candidate_score_snapshot(candidate) -> ScoreSnapshot:
    """The candidate's visible scores and sittings now: from the cache when still exact, else
    computed through scores.selectors and stored. Never shows what the selectors would not."""
    return _snapshot(candidate, clock.now())[0]


# --- rendered values -----------------------------------------------------------------------------


def rendered_prefetch(key_variant: str) -> tuple[list[str], list[str]]:
    """The cache keys `candidate_score_rendered(..., key_variant=key_variant)` reads on a hit,
    as (keys without the candidate, key templates with `CID` for the candidate id), so that a
    front door can read them in the same round trip as the sign-in check."""
    instant = clock.now()
    epoch = _epoch(_schedule, instant)
    templates = [_candidate_version_key(CID), _fragment_key(CID, key_variant)]
    if _schedule.token is not None:
        templates.append(_fragment_key(CID, key_variant, epoch))
    return [RELEASES_VERSION_KEY], templates


def _stored_value(
    stored: Any, variant: str, releases: Any, version: Any, candidate_id: int, instant: datetime
):
    if (
        isinstance(stored, tuple)
        and len(stored) == 3
        and stored[1] == variant
        and _stamp_holds(stored[0], releases, version, candidate_id, instant)
    ):
        return True, stored[2]
    return False, None


def candidate_score_rendered(
    candidate,
    variant: str,
    render: Callable[[ScoreSnapshot], T],
    *,
    key_variant: str | None = None,
    prefetched: Mapping[str, Any] | None = None,
    candidate_id: int | None = None,
) -> T:
    """`render(snapshot)` of the candidate's current snapshot, cached exactly as long as that
    snapshot is (a rendered page, the JSON bytes of an endpoint).

    `render` must depend on nothing but the snapshot and what `variant` names (page or
    endpoint, language, time zone, URL prefix, the candidate's displayed name and number...).
    The value is filed under `key_variant` (default: `variant`; a coarser name that a front door
    can compute before it knows the candidate's name, see `rendered_prefetch`) and used only
    when its `variant` is the same and it carries the stamp of a snapshot valid now: any score
    write, release change or release instant makes it unusable at once. `prefetched` holds
    cache values read earlier in the same request (keys of `rendered_prefetch`); a hit then
    needs no cache round trip at all, else one. `candidate_id` (= candidate.pk) lets a hit
    leave a lazily built candidate unbuilt."""
    instant = clock.now()
    key_variant = variant if key_variant is None else key_variant
    cid = candidate.pk if candidate_id is None else candidate_id
    version_key = _candidate_version_key(cid)
    key = _fragment_key(cid, key_variant)
    found: dict[str, Any] = {}
    if prefetched is not None and all(k in prefetched for k in (RELEASES_VERSION_KEY, version_key, key)):
        found = dict(prefetched)
    else:
        schedule_keys = (
            [_fragment_key(cid, key_variant, _epoch(_schedule, instant))] if _schedule.token else []
        )
        found = cache.get_many([RELEASES_VERSION_KEY, version_key, key, *schedule_keys])
    releases, version = found.get(RELEASES_VERSION_KEY), found.get(version_key)
    if releases is not None:
        schedule = _current_schedule(releases)
        warm_key = _fragment_key(cid, key_variant, _epoch(schedule, instant))
        if warm_key not in found:
            found.update(cache.get_many([warm_key]))
        for candidate_key in (key, warm_key):
            hit, value = _stored_value(found.get(candidate_key), variant, releases, version, cid, instant)
            if hit:
                return value
    found.setdefault(RELEASES_VERSION_KEY, releases)
    found.setdefault(version_key, version)
    snapshot, stamp = _snapshot(candidate, instant, found)
    value = render(snapshot)
    cache.set(key, (stamp, variant, value), timeout=_timeout_for(snapshot, instant))
    return value


# --- warming before a release ---------------------------------------------------------------------


@dataclass(frozen=True)
class Prerendered:
    """One value a front door renders from a snapshot, as it would file it at request time."""

    key_variant: str
    variant: str
    value: Any


# name → function(candidate, snapshot) → the values to file (registered by the front doors).
Prerenderer = Callable[[Any, ScoreSnapshot], Iterable[Prerendered]]
PRERENDERERS: dict[str, Prerenderer] = {}


def register_prerenderer(name: str) -> Callable[[Prerenderer], Prerenderer]:
    """Front doors register what `warm_release` should render for each candidate (the
    dashboard page, the API's latest-scores JSON), with exactly the variant they use."""

    def decorate(func: Prerenderer) -> Prerenderer:
        PRERENDERERS[name] = func
        return func

    return decorate


def release_candidates(sitting: Sitting) -> Iterable[int]:
    """Ids of the candidates whose view changes at the sitting's release: confirmed entries or
    score rows in it (withheld ones included: the warming computes what they may see)."""
    entered = Entry.objects.filter(sitting=sitting, status=Entry.Status.CONFIRMED).values_list(
        "candidate_id", flat=True
    )
    scored = Score.objects.filter(sitting=sitting).values_list("candidate_id", flat=True)
    return sorted(set(entered) | set(scored))


@dataclass
class WarmResult:
    release_at: datetime
    epoch: int
    candidates: int
    values: int


def warm_release(
    sitting: Sitting, candidates: Iterable, *, hold: int = 3600, renderers: Iterable[str] | None = None
) -> WarmResult:
    """File each candidate's snapshot as of the sitting's release instant T, and what the
    registered front doors render from it, under the keys of T's epoch.

    Nothing of it is readable before T (other keys; stamps valid from T). The entries carry
    the tokens read before the computation, so a score write, withholding or release change
    after (or during) the warming kills them. Kept `hold` seconds after T. Refuses (ValueError)
    a sitting without a release instant or already released."""
    now = clock.now()
    release_at = sitting.effective_release_at
    if release_at is None or release_at <= now:
        raise ValueError(f"sitting {sitting.label} has no release instant in the future")
    names = list(PRERENDERERS if renderers is None else renderers)
    releases = _token(RELEASES_VERSION_KEY, cache.get(RELEASES_VERSION_KEY))
    schedule = _Schedule(releases, _release_instants())
    epoch = _epoch(schedule, release_at)
    candidates = list(candidates)
    # Tokens are read before the database, as for any snapshot (see _snapshot).
    version_keys = {c.pk: _candidate_version_key(c.pk) for c in candidates}
    tokens = cache.get_many(list(version_keys.values()))
    versions = {pk: _token(key, tokens.get(key)) for pk, key in version_keys.items()}
    values = 0
    by_timeout: dict[int, dict[str, Any]] = {}  # one set_many per distinct timeout
    for candidate, snapshot in zip(candidates, _compute_many(candidates, release_at), strict=True):
        version = versions[candidate.pk]
        stamp = _stamp(releases, version, snapshot)
        entries = by_timeout.setdefault(_timeout_for(snapshot, now, hold=hold), {})
        entries[_snapshot_key(candidate.pk, epoch)] = (releases, version, snapshot)
        for name in names:
            for item in PRERENDERERS[name](candidate, snapshot):
                key = _fragment_key(candidate.pk, item.key_variant, epoch)
                entries[key] = (stamp, item.variant, item.value)
                values += 1
    for timeout, entries in by_timeout.items():
        cache.set_many(entries, timeout=timeout)
    return WarmResult(release_at, epoch, len(candidates), values)
