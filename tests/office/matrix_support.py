"""Discovery for the office permission matrix (tests/office/test_matrix_all.py).

Everything here is read from the running URLconf and the view functions themselves, so a page
added later is covered without editing the test:

* `office_routes()` walks `zikao.office.urls` (every `urls_*` module it includes) and returns one
  `Route` per named pattern: its name, route text, path converters and its decorator chain;
* the chain is the `__wrapped__` chain `functools.wraps` leaves behind. `office_view(perm)`'s
  wrapper is recognised by its code object (shared by every view it decorates) and `perm` is
  read from its closure, so the expected permission comes from the decorator actually applied,
  not from a list kept beside it;
* `require_http_methods` (and `require_GET` / `require_POST`) is recognised by the closure
  variable `request_method_list`, which tells whether a method is refused with 405 before the
  office gate runs.

A second gate inside `office_view()` (no permission) is only allowed when it is a known wrapper
listed in `EXTRA_GATES` (with the predicate it applies) or when the page is meant for every staff
user (`OPEN_TO_ALL_STAFF` in the test).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from django.apps import apps
from django.db import connection
from django.urls import URLPattern, URLResolver, reverse

from zikao.accounts.permissions import Perm, has_perm
from zikao.office import views_scores
from zikao.office.access import office_view


def _noop(request):  # pragma: no cover - never called, only decorated to find the code objects
    return None


# The inner function of `office_view(...)`: one code object for every decorated view.
OFFICE_GATE_CODE = office_view("probe")(_noop).__code__

# Known second gates sitting under `office_view()` (no permission of its own), with the rule each
# applies. The corrections queue is open to whoever may request OR approve a correction.
EXTRA_GATES: dict[object, tuple[str, Callable]] = {
    views_scores.corrections_view(_noop).__wrapped__.__code__: (
        "scores.correct_request|scores.correct_approve",
        # stated here, not borrowed from views_scores, so a wrong rule there shows up
        lambda user: (
            has_perm(user, Perm.SCORES_CORRECT_REQUEST) or has_perm(user, Perm.SCORES_CORRECT_APPROVE)
        ),
    ),
}

# Dummy values for path parameters, by parameter name first, then by converter.
DUMMY_BY_NAME = {
    "candidate_no": "010120100001",
    "label": "202610",
    "order_no": "ZK20261001ABCDEFGHJKLM",  # a well-formed payment order number (entries_payment_order)
}
DUMMY_BY_CONVERTER = {
    "int": 999999,
    "str": "x",
    "slug": "x",
    "path": "x",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


@dataclass(frozen=True)
class Gate:
    """What the office gate of one view demands."""

    perm: str | None  # the office_view permission (None: any signed-in staff user)
    extra: str = ""  # description of a known second gate ("" when none)
    extra_check: Callable | None = field(default=None, compare=False)

    def allows(self, user) -> bool:
        if self.perm is not None and not has_perm(user, self.perm):
            return False
        return self.extra_check is None or bool(self.extra_check(user))


@dataclass(frozen=True)
class Route:
    name: str  # URL name inside the `office` namespace
    route: str  # full route text under /office/
    converters: dict = field(compare=False)  # parameter name → converter name
    callback: Callable = field(compare=False)
    default_args: dict = field(compare=False)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.converters)

    @property
    def chain(self) -> list[Callable]:
        """The view and every wrapper around it, outermost first."""
        out, fn, seen = [], self.callback, set()
        while fn is not None and id(fn) not in seen:
            seen.add(id(fn))
            out.append(fn)
            fn = getattr(fn, "__wrapped__", None)
        return out

    @property
    def gate(self) -> Gate | None:
        """The first office_view in the chain (None: the view is not gated by it)."""
        chain = self.chain
        for i, fn in enumerate(chain):
            if getattr(fn, "__code__", None) is OFFICE_GATE_CODE:
                perm = inspect.getclosurevars(fn).nonlocals["perm"]
                extra, check = "", None
                for inner in chain[i + 1 :]:
                    known = EXTRA_GATES.get(getattr(inner, "__code__", None))
                    if known is not None:
                        extra, check = known
                        break
                return Gate(perm=perm, extra=extra, extra_check=check)
        return None

    def refused_before_gate(self, method: str) -> bool:
        """True when a method restriction outside the office gate answers `method` with 405."""
        for fn in self.chain:
            if getattr(fn, "__code__", None) is OFFICE_GATE_CODE:
                return False
            methods = _method_list(fn)
            if methods is not None and method not in methods:
                return True
        return False

    def accepts(self, method: str) -> bool:
        """True when no method restriction anywhere in the chain refuses `method`."""
        for fn in self.chain:
            methods = _method_list(fn)
            if methods is not None and method not in methods:
                return False
        return True

    def url(self, **overrides) -> str:
        kwargs = {}
        for name, conv in self.converters.items():
            if name in overrides:
                kwargs[name] = overrides[name]
            elif name in DUMMY_BY_NAME:
                kwargs[name] = DUMMY_BY_NAME[name]
            else:
                kwargs[name] = DUMMY_BY_CONVERTER[conv]
        return reverse(f"office:{self.name}", kwargs=kwargs or None)

    def takes_candidate_no(self) -> str | None:
        """The parameter naming a candidate number, if the route has one."""
        for name, conv in self.converters.items():
            if conv in ("str", "slug") and "candidate" in name:
                return name
        return None


def _method_list(fn) -> list[str] | None:
    if getattr(fn, "__closure__", None) is None:
        return None
    try:
        nonlocals = inspect.getclosurevars(fn).nonlocals
    except (TypeError, ValueError):  # pragma: no cover - builtins, partials
        return None
    methods = nonlocals.get("request_method_list")
    return list(methods) if methods is not None else None


_CONVERTER_NAMES = {
    "IntConverter": "int",
    "StringConverter": "str",
    "SlugConverter": "slug",
    "PathConverter": "path",
    "UUIDConverter": "uuid",
}


def _walk(patterns, prefix: str, converters: dict) -> Iterator[Route]:
    for entry in patterns:
        pattern = entry.pattern
        conv = dict(converters)
        for name, converter in getattr(pattern, "converters", {}).items():
            conv[name] = _CONVERTER_NAMES.get(type(converter).__name__, "str")
        text = prefix + str(pattern)
        if isinstance(entry, URLResolver):
            if entry.namespace:  # pragma: no cover - the office has no nested namespaces
                raise AssertionError(f"unexpected nested namespace under /office/{text}")
            yield from _walk(entry.url_patterns, text, conv)
        elif isinstance(entry, URLPattern):
            if not entry.name:
                raise AssertionError(f"office URL /office/{text} has no name")
            yield Route(
                name=entry.name,
                route=text,
                converters=conv,
                callback=entry.callback,
                default_args=dict(entry.default_args),
            )


def office_routes() -> list[Route]:
    """Every named pattern of the `office` namespace, in URLconf order."""
    from zikao.office import urls

    routes = list(_walk(urls.urlpatterns, "", {}))
    names = [r.name for r in routes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AssertionError(f"office URL names used twice: {duplicates}")
    return routes


# Tables whose rows must not move when an office action is refused: every model of every zikao
# app (core, accounts, catalog, candidates, entries, scores, conduct, credits, graduation, ...)
# and the staff second-factor devices (a TOTP reset). Sessions are left out: signing a test
# client in writes one, and a refused request may still touch its own.
def watched_models() -> list:
    models = []
    for config in apps.get_app_configs():
        if config.name.startswith("zikao.") or config.label == "otp_totp":
            models.extend(m for m in config.get_models() if not m._meta.proxy)
    return sorted(models, key=lambda m: m._meta.label)


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every watched table, as raw tuples in primary-key order (small test worlds
    only). Plain SQL, one statement per table: an ORM query per model costs more to compile
    than to run, and the matrix takes two snapshots per case."""
    out = {}
    with connection.cursor() as cursor:
        for label, sql in _snapshot_sql():
            cursor.execute(sql)
            out[label] = cursor.fetchall()
    return out


@lru_cache(maxsize=1)
def _snapshot_sql() -> tuple[tuple[str, str], ...]:
    quote = connection.ops.quote_name
    return tuple(
        (
            m._meta.label,
            f"SELECT * FROM {quote(m._meta.db_table)} ORDER BY {quote(m._meta.pk.column)}",
        )
        for m in watched_models()
    )


def snapshot_diff(before: dict, after: dict) -> list[str]:
    """Readable description of what changed between two snapshots ([] when nothing did)."""
    out = []
    for label in sorted(set(before) | set(after)):
        b, a = before.get(label, []), after.get(label, [])
        if b != a:
            added = [row for row in a if row not in b]
            removed = [row for row in b if row not in a]
            out.append(f"{label}: {len(b)}→{len(a)} rows; added {added[:3]} removed {removed[:3]}")
    return out
