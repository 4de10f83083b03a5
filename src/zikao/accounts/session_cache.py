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

**A token's first use** with nothing of it cached (an app signed in hours ago) is one query, the
token row joined with the sign-in state, and one round trip more than a hit: the candidate's
version token is then *claimed* (set only if missing, with the token's entries, in one Lua
script). No version until after the read means no write committed between the read and the
claim; if one is there already, the row is read again after it (two queries). The sign-in
queries are compiled once per process (`_CompiledRow`).

Writes made behind the models' back (`QuerySet.update()` of these tables, as
`accounts.services._revoke_tokens` does) must call `account_changed(candidate_id)` themselves;
rebuilding the database behind a living Redis needs a cache flush (as for `scores.cache`).

**One round trip per request** (docs/decisions/0005). A front door may ask for more keys of the
same candidate with its sign-in check (`Prefetch`: the keys of a cached page, see
`scores.cache.rendered_prefetch`). On Redis, a small Lua script reads the session (or the
token's entry), the candidate id it belongs to and every per-candidate key in one round trip.
The candidate id comes from a *pointer* key (session key or token digest → candidate id),
written when the session is saved or the token's entry cached. A pointer is only a hint: the
values fetched with it are used only when the session (or token entry) read in the same round
trip names the same candidate; a missing or wrong pointer costs a second round trip, never a
wrong answer. Sessions live in the `SessionStore` of this module (Django's cache store, plus
the pointer) when `REDIS_URL` is set; elsewhere the same code runs with plain `get_many` calls.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore
from django.core.cache import cache, caches
from django.db import connections, router, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.functional import SimpleLazyObject
from django_redis.exceptions import CompressorError
from redis.exceptions import ResponseError

from zikao.accounts.models import ApiToken, CandidateAccount
from zikao.accounts.selectors import token_digest
from zikao.candidates.models import Candidate
from zikao.core import clock

_PREFIX = "zikao:auth:v1"
_TIMEOUT = 3600  # seconds; only frees memory: validity comes from the version token


def _version_key(candidate_id: int | str) -> str:
    return f"{_PREFIX}:v:{candidate_id}"


def _state_key(candidate_id: int | str) -> str:
    return f"{_PREFIX}:s:{candidate_id}"


def _token_key(digest: str) -> str:
    return f"{_PREFIX}:t:{digest}"


def _token_pointer_key(digest: str) -> str:
    return f"{_PREFIX}:tc:{digest}"


def _session_pointer_key(session_key: str) -> str:
    return f"{_PREFIX}:sc:{session_key}"


CID = "{cid}"  # the candidate id's placeholder in key templates (the same in scores.cache)
SESSION_KEY = "zikao_candidate"  # the portal's session entry: {"id": candidate id, "epoch": n}


@dataclass(frozen=True)
class Prefetch:
    """Cache keys a front door wants read together with the sign-in check: `fixed` keys and
    `templates` in which `CID` stands for the signed-in candidate's id."""

    fixed: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()


# --- one round trip ------------------------------------------------------------------------------

# KEYS: the pointer, then fixed keys; ARGV: key templates with {cid}. Returns the values of KEYS,
# then (only when the pointer holds a candidate id) those of the templates filled with it.
_FETCH_LUA = """
local values = redis.call('MGET', unpack(KEYS))
local cid = values[1]
if cid and #ARGV > 0 and string.match(cid, '^%d+$') then
  local keys = {}
  for i = 1, #ARGV do keys[i] = (string.gsub(ARGV[i], '{cid}', cid)) end
  local more = redis.call('MGET', unpack(keys))
  for i = 1, #more do values[#values + 1] = more[i] end
end
return values
"""

# KEYS: a version key, then keys to write only if the version is new; ARGV: the new version, the
# values of those keys, their timeout. Sets the version if it is missing (no timeout) and then the
# other keys; returns {1, the new version} or {0, the version already there}.
_CLAIM_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[i], 'EX', ARGV[#KEYS + 1]) end
  return {1, ARGV[1]}
end
return {0, redis.call('GET', KEYS[1])}
"""

_scripts: dict[tuple[int, str], Any] = {}
_local = threading.local()


def _redis_backend() -> Any | None:
    """The default cache if it is django-redis (the Lua path), else None (plain get_many)."""
    backend = caches["default"]
    try:
        from django_redis.cache import RedisCache
    except ImportError:  # pragma: no cover - django-redis is a dependency
        return None
    return backend if isinstance(backend, RedisCache) else None


def _script(backend: Any, source: str, write: bool) -> Any:
    client = backend.client.get_client(write=write)
    script = _scripts.get((id(client), source))
    if script is None or script.registered_client is not client:
        script = _scripts[(id(client), source)] = client.register_script(source)
    return script, client


def _eval(backend: Any, keys: list[Any], args: list[Any], source: str = _FETCH_LUA) -> Any:
    """EVALSHA of a script of this module on a connection this thread keeps (redis-py's client
    adds about twice the script's own cost per call in pool, retry and callback layers). Anything
    unusual (no connection yet, an error, a lost script) goes through redis-py's own path. The
    fetch script may run on a replica; the others write and run on the primary (the same
    client with a single Redis; with replicas, calls on the other client take redis-py's path)."""
    fetch = source is _FETCH_LUA
    script, client = _script(backend, source, write=not fetch)
    conn = getattr(_local, "conn", None)
    if conn is not None and _local.client is not client:
        if not fetch:
            return script(keys=keys, args=args, client=client)
        _local.client.connection_pool.release(conn)  # the cache was configured anew (tests)
        conn = None
    if conn is None:
        conn = _local.conn = client.connection_pool.get_connection()
        _local.client = client
    try:
        conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
        return conn.read_response()
    except ResponseError:  # the reply was read (e.g. NOSCRIPT after a restart): the connection is fine
        pass
    except Exception:
        _local.conn = None
        conn.disconnect()
        client.connection_pool.release(conn)
    return script(keys=keys, args=args, client=client)


def _decoder(backend: Any) -> Callable[[bytes], Any]:
    """django-redis's `decode` without its first try of int() on every value (a failed int()
    of a cached page formats the whole page into the exception message). Integers are stored
    as their digits, everything else through the configured serializer and compressor."""
    client = backend.client
    serializer, compressor = getattr(client, "_serializer", None), getattr(client, "_compressor", None)
    if serializer is None or compressor is None:
        return client.decode

    def decode(raw: bytes) -> Any:
        if raw.isdigit() or (raw[:1] == b"-" and raw[1:].isdigit()):
            return int(raw)
        with suppress(CompressorError):
            raw = compressor.decompress(raw)
        return serializer.loads(raw)

    return decode


_key_makers: dict[int, Callable[[str], str]] = {}


def _key_maker(backend: Any) -> Callable[[str], str]:
    """django-redis's `make_key` as one string concatenation when the key function is the
    usual prefix:version:key (checked once per cache), else `make_key` itself."""
    maker = _key_makers.get(id(backend))
    if maker is None:
        make_key = backend.client.make_key
        head, _, tail = str(make_key("\x00")).partition("\x00")
        probe = "zikao-key-probe"
        if str(make_key(probe)) == f"{head}{probe}{tail}":
            maker = _key_makers[id(backend)] = lambda key: f"{head}{key}{tail}"
        else:
            maker = _key_makers[id(backend)] = lambda key: str(make_key(key))
    return maker


def _fill(template: str, candidate_id: int) -> str:
    return template.replace(CID, str(candidate_id))


def _as_candidate_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _fetch(pointer: str, fixed: list[str], templates: list[str]) -> tuple[int | None, dict[str, Any]]:
    """The values of `pointer` and `fixed`, and, when `pointer` holds a candidate id, of the
    `templates` filled with it: one round trip on Redis, at most two otherwise. Every key asked
    for and answered is in the result (None when absent)."""
    keys = [pointer, *fixed]
    backend = _redis_backend()
    if backend is not None:
        make_key = _key_maker(backend)
        raw = _eval(backend, [make_key(k) for k in keys], [make_key(t) for t in templates])
        decode = _decoder(backend)
        values = [None if r is None else decode(r) for r in raw]
        found = dict(zip(keys, values[: len(keys)], strict=True))
        candidate_id = _as_candidate_id(found[pointer])
        if candidate_id is not None and len(values) == len(keys) + len(templates):
            filled = [_fill(t, candidate_id) for t in templates]
            found.update(zip(filled, values[len(keys) :], strict=True))
        return candidate_id, found
    got = cache.get_many(keys)
    found = {k: got.get(k) for k in keys}
    candidate_id = _as_candidate_id(found[pointer])
    if candidate_id is not None and templates:
        found.update(fetch_for(candidate_id, templates))
    return candidate_id, found


def fetch_for(candidate_id: int, templates: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The values of `templates` filled with `candidate_id` (None when absent), one round trip."""
    filled = [_fill(t, candidate_id) for t in templates]
    got = cache.get_many(filled)
    return {k: got.get(k) for k in filled}


def _auth_templates(prefetch: Prefetch | None) -> list[str]:
    return [_version_key(CID), _state_key(CID), *(prefetch.templates if prefetch else ())]


# --- sessions --------------------------------------------------------------------------------------


class SessionStore(CacheSessionStore):
    """Django's cache session store, plus the pointer (session key → candidate id) that lets
    `portal_session` read the session and everything a page needs in one round trip."""

    def save(self, must_create: bool = False) -> None:
        super().save(must_create)
        candidate_id = session_candidate_id(self._get_session())  # type: ignore[attr-defined]
        if candidate_id is not None and self.session_key:
            cache.set(_session_pointer_key(self.session_key), candidate_id, self.get_expiry_age())

    def use_prefetched(self, data: Any) -> None:
        """Take the session data read by the caller's round trip instead of loading it
        (exactly what `load` does with the same value)."""
        self.accessed = True
        if isinstance(data, dict):
            self._session_cache = data
        else:
            self._session_key = None
            self._session_cache = {}


def session_candidate_id(data: Any) -> int | None:
    entry = data.get(SESSION_KEY) if isinstance(data, dict) else None
    return _as_candidate_id(entry.get("id")) if isinstance(entry, dict) else None


def _hot_sessions(store: Any) -> bool:
    return (
        isinstance(store, SessionStore)
        and settings.SESSION_CACHE_ALIAS == "default"
        and bool(store.session_key)
        and not hasattr(store, "_session_cache")
    )


def portal_session(
    store: Any, prefetch: Prefetch | None = None
) -> tuple[SessionState | None, dict[str, Any] | None]:
    """The sign-in state of this portal session's candidate (None: no valid sign-in), and the
    values of `prefetch`'s keys for that candidate (None if not read).

    With this module's `SessionStore` (Redis), the session, its candidate's sign-in state and
    the prefetched keys come in one round trip when the pointer is in place (it is put back
    otherwise). With any other store, the session loads as usual and the rest takes one
    `get_many`."""
    now = clock.now()
    hint: int | None = None
    found: dict[str, Any] = {}
    fixed = list(prefetch.fixed) if prefetch else []
    if _hot_sessions(store):
        data_key = store.cache_key
        hint, found = _fetch(
            _session_pointer_key(store.session_key), [data_key, *fixed], _auth_templates(prefetch)
        )
        store.use_prefetched(found.get(data_key))
    data = store.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None, None
    candidate_id = _as_candidate_id(data.get("id"))
    if candidate_id is None:
        return None, None
    if hint != candidate_id:
        if fixed and any(k not in found for k in fixed):
            got = cache.get_many(fixed)
            found.update({k: got.get(k) for k in fixed})
        found.update(fetch_for(candidate_id, _auth_templates(prefetch)))
        if isinstance(store, SessionStore) and store.session_key:
            cache.set(_session_pointer_key(store.session_key), candidate_id, store.get_expiry_age())
    state = session_state(candidate_id, found=found)
    if state is None or not state.accepts(data.get("epoch"), now):
        return None, None
    return state, (found if prefetch else None)


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

    def lazy_candidate(self) -> Candidate:
        """`candidate()`, built only when first used: a page served whole from the cache needs
        only this state's fields (building the two model instances costs more than the page's
        cache round trip). Always true (a signed-in candidate), without building it."""
        return _LazyInstance(self.candidate)  # type: ignore[return-value]

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


class _LazyInstance(SimpleLazyObject):
    """A model instance built on first use (isinstance, attributes, ORM filters work as for
    the instance); `bool()` is True without building it, as for any model instance."""

    def __bool__(self) -> bool:
        return True


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


class _CompiledRow:
    """One row of a `values_list` query whose SQL the ORM compiles once per database, not per
    request (compiling the three-table sign-in queries costs the web process several times what
    running them does). It runs through Django's cursor (counted, logged and wrapped like any
    query) and its values through the ORM's converters, so the answer is the ORM's own.
    `build(value)` makes the query; `probe` marks where `value` goes in its parameters."""

    def __init__(self, model: Any, build: Callable[[Any], Any], probe: Any) -> None:
        self.model, self.build, self.probe = model, build, probe
        self.compiled: dict[tuple[str, str], tuple[str, list[Any], list[int], list[Any]]] = {}

    def first(self, value: Any) -> tuple | None:
        alias = router.db_for_read(self.model)
        conn = connections[alias]
        compiled = self.compiled.get((alias, conn.vendor))
        if compiled is None:
            compiler = self.build(self.probe).query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            slots = [i for i, param in enumerate(params) if param == self.probe]
            converters = compiler.get_converters([column[0] for column in compiler.select])
            compiled = (sql, list(params), slots, list(converters.items()))
            self.compiled[(alias, conn.vendor)] = compiled
        sql, params, slots, converters = compiled
        params = list(params)
        for i in slots:
            params[i] = value
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None or not converters:
            return None if row is None else tuple(row)
        values = list(row)
        for i, (functions, expression) in converters:
            for convert in functions:
                values[i] = convert(values[i], expression, conn)
        return tuple(values)


_STATE_ROW = _CompiledRow(
    Candidate,
    lambda candidate_id: (
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
    ),
    probe=-7_000_000_001,
)


def _load(candidate_id: int) -> SessionState | None:
    row = _STATE_ROW.first(candidate_id)
    if row is None:
        return None
    return SessionState(candidate_id, *row)


def warm_states(candidate_ids: list[int], *, timeout: int) -> int:
    """Cache the sign-in state of these candidates (those with an account on an open record)
    and the entries of their live API tokens for `timeout` seconds, as `session_state` and
    `token_check` would on their next request: the release hour's warming (`manage.py
    warm_release_snapshots`), so that a session or token older than these entries' usual
    lifetime still needs no query at its first request after the release. Version tokens are
    read (or made) before the rows, as in `session_state`. Returns the number of states cached."""
    keys = {candidate_id: _version_key(candidate_id) for candidate_id in candidate_ids}
    found = cache.get_many(list(keys.values()))
    versions = {candidate_id: _current_version(key, found.get(key)) for candidate_id, key in keys.items()}
    rows = (
        Candidate.objects.filter(pk__in=candidate_ids, account__isnull=False)
        .exclude(status=Candidate.Status.MERGED)
        .values_list(
            "pk",
            "candidate_no",
            "name",
            "status",
            "account__session_epoch",
            "account__must_change_password",
            "account__locked_until",
        )
    )
    entries: dict[str, Any] = {
        _state_key(row[0]): (versions[row[0]], SessionState(*row))
        for row in rows
        if versions[row[0]] is not None
    }
    states = len(entries)
    # Their live API tokens too (an app signed in hours ago has its token's entry expired).
    tokens = ApiToken.objects.filter(
        candidate_id__in=candidate_ids, revoked_at__isnull=True, expires_at__gt=clock.now()
    ).values_list(*_TOKEN_FIELDS, "key_digest")
    for *row, digest in tokens:
        version = versions[row[1]]
        if version is not None:
            entries[_token_key(digest)] = (row[1], version, tuple(row))
            entries[_token_pointer_key(digest)] = row[1]
    cache.set_many(entries, timeout=timeout)
    return states


def _claim_version(
    version_key: str, new: str, entries: dict[str, Any] | None = None
) -> tuple[bool, str | None]:
    """Set `version_key` to `new` if it holds no version, and then (only then) `entries` under
    it for `_TIMEOUT`: one round trip on Redis (a Lua script, atomic). Returns (whether `new` was
    set, the version now current; None only if the cache keeps nothing).

    This is what lets a first read file what it read *before* the version token: when no version
    existed until after the read, no write can have committed between the read and the claim
    (each commit sets the token), and any later commit replaces it."""
    backend = _redis_backend()
    if backend is not None:
        make_key, encode = _key_maker(backend), backend.client.encode
        items = list((entries or {}).items())
        keys = [make_key(version_key), *(make_key(k) for k, _v in items)]
        args = [encode(new), *(encode(v) for _k, v in items), _TIMEOUT]
        claimed, current = _eval(backend, keys, args, _CLAIM_LUA)
        return bool(claimed), None if current is None else _decoder(backend)(current)
    if cache.add(version_key, new, timeout=None):
        if entries:
            cache.set_many(entries, timeout=_TIMEOUT)
        return True, new
    return False, cache.get(version_key)


def _current_version(version_key: str, current: str | None) -> str | None:
    if current is not None:
        return current
    return _claim_version(version_key, _new_token())[1]


def session_state(candidate_id: object, *, found: dict[str, Any] | None = None) -> SessionState | None:
    """The sign-in state of an open candidate record with an account row, or None.

    One cache round trip on a hit (none when `found` already holds the two keys, read in the
    caller's round trip); one query and a cache write otherwise (two queries when the version
    token was missing before the query and a write set it meanwhile)."""
    if not isinstance(candidate_id, int) or isinstance(candidate_id, bool):
        return None
    version_key, state_key = _version_key(candidate_id), _state_key(candidate_id)
    if found is None or version_key not in found or state_key not in found:
        found = cache.get_many([version_key, state_key])
    version, stored = found.get(version_key), found.get(state_key)
    if version is not None and stored is not None and stored[0] == version:
        return stored[1]
    state = _load(candidate_id)
    if version is None:
        # No token before the read: claim one after it, with the state (see _claim_version).
        new = _new_token()
        claimed, version = _claim_version(version_key, new, {state_key: (new, state)})
        if claimed or version is None:
            return state
        state = _load(candidate_id)  # a write set the token meanwhile: read again after it
    # The token was read before the database: a write committing meanwhile bumps it afterwards.
    cache.set(state_key, (version, state), timeout=_TIMEOUT)
    return state


def session_candidate_for(candidate_id: object, epoch: object) -> Candidate | None:
    """The candidate of a session (id, epoch) if it still holds now, else None."""
    state = session_state(candidate_id)
    if state is None or not state.accepts(epoch, clock.now()):
        return None
    return state.candidate()


_TOKEN_FIELDS = ("id", "candidate_id", "session_epoch", "created_at", "expires_at", "revoked_at")
_STATE_FIELDS = (
    "candidate__candidate_no",
    "candidate__name",
    "candidate__status",
    "candidate__account__session_epoch",
    "candidate__account__must_change_password",
    "candidate__account__locked_until",
    "candidate__account__candidate_id",
)


_TOKEN_ROW = _CompiledRow(
    ApiToken,
    lambda digest: ApiToken.objects.filter(key_digest=digest).values_list(*_TOKEN_FIELDS, *_STATE_FIELDS),
    probe="zikao-probe-digest",
)


def _token_and_state(digest: str) -> tuple[tuple, SessionState | None] | None:
    """The token row of `digest` and its candidate's sign-in state (as `_load` gives it) in one
    query, or None for an unknown digest."""
    found = _TOKEN_ROW.first(digest)
    if found is None:
        return None
    n = len(_TOKEN_FIELDS)
    row, (number, name, status, epoch, must_change, locked_until, account) = found[:n], found[n:]
    state = None
    if account is not None and status != Candidate.Status.MERGED:
        state = SessionState(row[1], number, name, status, epoch, must_change, locked_until)
    return row, state


def _token_entries(digest: str, row: tuple, state: SessionState | None, version: str) -> dict[str, Any]:
    """The cache entries of a token read from the database under `version`: its entry, its
    pointer and its candidate's sign-in state."""
    candidate_id = row[1]
    return {
        _token_key(digest): (candidate_id, version, row),
        _token_pointer_key(digest): candidate_id,
        _state_key(candidate_id): (version, state),
    }


def _token_load(digest: str, version: str | None) -> tuple[tuple, SessionState | None] | None:
    """The token row and sign-in state from the database, filed in the cache under `version`, the
    candidate's version token read before this call. None (unknown before the query) is claimed
    after the query (`_claim_version`): one query, unless a write set the token meanwhile, then
    the row is read again after it. Unknown digests are not cached (nothing to invalidate)."""
    loaded = _token_and_state(digest)
    if loaded is None:
        return None
    if version is None:
        row, state = loaded
        new = _new_token()
        claimed, version = _claim_version(_version_key(row[1]), new, _token_entries(digest, row, state, new))
        if claimed or version is None:
            return loaded
        loaded = _token_and_state(digest)
        if loaded is None:  # pragma: no cover - token rows are never deleted
            return None
    cache.set_many(_token_entries(digest, *loaded, version), timeout=_TIMEOUT)
    return loaded


def token_lookup(raw: str) -> ApiToken | None:
    """Same answer as `accounts.selectors.token_lookup` (live token: not revoked, not expired,
    current epoch, open record, not locked), without a query on a hit.

    The digest → candidate link of a token never changes; the token row is filed under the
    candidate's version token, read before the row is (re)read from the database."""
    checked = token_check(raw)
    return None if checked is None else checked.token()


@dataclass(frozen=True)
class TokenCheck:
    """A live API token: its row, its candidate's sign-in state, and the values of the
    prefetched keys for that candidate (None if none were asked for)."""

    digest: str
    row: tuple
    state: SessionState
    prefetched: dict[str, Any] | None

    def token(self) -> ApiToken:
        """The ApiToken instance (other fields deferred) with its candidate attached."""
        token = _instance(
            ApiToken, {**dict(zip(_TOKEN_FIELDS, self.row, strict=True)), "key_digest": self.digest}
        )
        token.candidate = self.state.candidate()
        return token


def token_check(raw: str, prefetch: Prefetch | None = None) -> TokenCheck | None:
    """`token_lookup` without building model instances, plus the values of `prefetch`'s keys
    for the token's candidate. A hit with the pointer in place is one cache round trip; a token's
    first use (nothing cached) is one query and two round trips (the fetch, then the claim of a
    version token with the entries), when its candidate has no version token yet."""
    if not raw or len(raw) > 200:
        return None
    digest = token_digest(raw)
    token_key = _token_key(digest)
    fixed = list(prefetch.fixed) if prefetch else []
    templates = _auth_templates(prefetch)
    hint, found = _fetch(_token_pointer_key(digest), [token_key, *fixed], templates)
    entry = found.get(token_key)
    state: SessionState | None = None
    if isinstance(entry, tuple) and len(entry) == 3:
        candidate_id = entry[0]
        if hint != candidate_id:
            found.update(fetch_for(candidate_id, templates))
        version, stored = found.get(_version_key(candidate_id)), found.get(_state_key(candidate_id))
        if version is not None and entry[1] == version:
            row = entry[2]
            if hint != candidate_id:
                cache.set(_token_pointer_key(digest), candidate_id, timeout=_TIMEOUT)
            if isinstance(stored, tuple) and stored[0] == version:
                state = stored[1]
            else:
                state = session_state(candidate_id, found=found)  # the state alone is gone: one query
        else:
            loaded = _token_load(digest, version)  # the entry is stale: `version` was read first
            if loaded is None:  # pragma: no cover - token rows are never deleted
                return None
            row, state = loaded
    else:
        loaded = _token_load(digest, None)
        if loaded is None:
            return None  # unknown tokens are not cached: nothing to invalidate later
        row, state = loaded
        if prefetch is not None and prefetch.templates:
            found.update(fetch_for(row[1], prefetch.templates))
    if row is None or row[5] is not None:
        return None
    now = clock.now()
    if row[4] <= now:
        return None
    if state is None or not state.accepts(row[2], now):
        return None
    return TokenCheck(digest, row, state, found if prefetch else None)


@receiver(post_save, sender=ApiToken, dispatch_uid="zikao.auth_cache.token_saved")
@receiver(post_delete, sender=ApiToken, dispatch_uid="zikao.auth_cache.token_deleted")
def _token_written(sender, instance: ApiToken, **kwargs: Any) -> None:
    # A newly issued token needs no invalidation: nothing about it can be cached yet (unknown
    # digests are never cached, and the candidate's sign-in state does not list tokens).
    # Instead its entry is put in the cache once the sign-in commits (after the account row's
    # own invalidation, registered first), so the app's first request needs no query.
    if kwargs.get("created"):
        row = tuple(getattr(instance, field) for field in _TOKEN_FIELDS)
        transaction.on_commit(lambda: _prime_token(instance.key_digest, row))
        return
    account_changed(instance.candidate_id)


def _prime_token(digest: str, row: tuple) -> None:
    candidate_id = row[1]
    version_key = _version_key(candidate_id)
    version = _current_version(version_key, cache.get(version_key))
    if version is not None:
        cache.set_many(
            {_token_key(digest): (candidate_id, version, row), _token_pointer_key(digest): candidate_id},
            timeout=_TIMEOUT,
        )


@receiver(post_save, sender=Candidate, dispatch_uid="zikao.auth_cache.candidate_saved")
@receiver(post_delete, sender=Candidate, dispatch_uid="zikao.auth_cache.candidate_deleted")
def _candidate_written(sender, instance: Candidate, **kwargs: Any) -> None:
    if instance.pk is not None:
        account_changed(instance.pk)


@receiver(post_save, sender=CandidateAccount, dispatch_uid="zikao.auth_cache.account_saved")
@receiver(post_delete, sender=CandidateAccount, dispatch_uid="zikao.auth_cache.account_deleted")
def _account_written(sender, instance: CandidateAccount, **kwargs: Any) -> None:
    account_changed(instance.candidate_id)
