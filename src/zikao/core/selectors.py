"""Reading the audit trail: scoped, filtered, keyset-paginated queries and payload masking.

The table grows to tens of millions of rows, so nothing here counts the whole set or pages by
OFFSET: pages are keyset slices ordered newest first on (`at`, `id`), and every filter maps to
an indexed column (`at`; `candidate, at`; `event_type`; `actor_user`). Scope follows the staff
user's office: the province sees every event; a city or county office sees events about
candidates of its subtree and events written by staff of its subtree.

Two reads are sensitive reads and record themselves in the trail: showing an event unmasked
(`audit_event_unmasked`, event `audit.unmasked_viewed`) and exporting a filtered set
(`audit_export_start`, event `audit.exported`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from zikao.accounts.permissions import Perm, office_scope_q, require_perm
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import NotFound, ValidationFailed
from zikao.core.masking import mask_id_number, mask_name, mask_phone, scrub
from zikao.core.models import AuditEvent

PAGE_SIZE = 50
EXPORT_BATCH = 2000
EVENT_TYPES_CACHE_KEY = "zikao:audit:event_types"
EVENT_TYPES_CACHE_SECONDS = 300


# --- filters --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the auditor asked for. Empty fields do not filter; `end` is exclusive."""

    candidate_no: str = ""
    username: str = ""
    event_type: str = ""
    start: datetime | None = None
    end: datetime | None = None

    def as_dict(self) -> dict[str, str]:
        """The filter as plain strings (ISO instants), for the export's audit event and links."""
        return {
            "candidate_no": self.candidate_no,
            "username": self.username,
            "event_type": self.event_type,
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
        }

    def check(self) -> None:
        """Refuse a malformed filter with AUDIT_FILTER_INVALID (field name in `fields`)."""
        if self.candidate_no and not (len(self.candidate_no) == 12 and self.candidate_no.isdigit()):
            raise ValidationFailed(
                "AUDIT_FILTER_INVALID",
                _("准考证号应为12位数字。"),
                {"candidate_no": ["AUDIT_FILTER_INVALID"]},
            )
        if len(self.username) > 150:
            raise ValidationFailed(
                "AUDIT_FILTER_INVALID", _("用户名过长。"), {"username": ["AUDIT_FILTER_INVALID"]}
            )
        if len(self.event_type) > 64:
            raise ValidationFailed(
                "AUDIT_FILTER_INVALID", _("事件类型无效。"), {"event_type": ["AUDIT_FILTER_INVALID"]}
            )
        if self.start and self.end and self.end <= self.start:
            raise ValidationFailed(
                "AUDIT_FILTER_INVALID",
                _("结束时间须晚于开始时间。"),
                {"end": ["AUDIT_FILTER_INVALID"]},
            )


# --- scope ----------------------------------------------------------------------------------------


def audit_scope_q(user) -> Q:
    """Events the user's office may read (province: all; below: its candidates or its staff).

    Written as two IN-subqueries (candidate ids of the subtree's counties, staff ids of the
    subtree's offices) rather than OR-ed joins, so the planner can drive either from its index.
    """
    from zikao.accounts.models import Office, User
    from zikao.candidates.models import Candidate

    office = getattr(user, "office", None)
    if office is None:
        return Q(pk__in=[])
    if office.level == Office.Level.PROVINCE:
        return Q()
    offices = Office.objects.filter(office_scope_q(user)).values("pk")
    candidates = Candidate.objects.filter(county_office_id__in=offices).values("pk")
    staff = User.objects.filter(office_id__in=offices).values("pk")
    return Q(candidate_id__in=candidates) | Q(actor_user_id__in=staff)


def audit_events_visible(user) -> QuerySet[AuditEvent]:
    """Every event `user` may read, newest first. Requires `audit.view`."""
    require_perm(user, Perm.AUDIT_VIEW)
    return AuditEvent.objects.filter(audit_scope_q(user)).order_by("-at", "-id")


def _apply_filter(qs: QuerySet[AuditEvent], flt: AuditFilter) -> QuerySet[AuditEvent]:
    from zikao.accounts.models import User
    from zikao.candidates.models import Candidate

    flt.check()
    if flt.candidate_no:
        # Resolve the number to its id first: the (candidate, at) index then drives the page.
        candidate_id = (
            Candidate.objects.filter(candidate_no=flt.candidate_no).values_list("pk", flat=True).first()
        )
        if candidate_id is None:
            return qs.none()
        qs = qs.filter(candidate_id=candidate_id)
    if flt.username:
        user_id = User.objects.filter(username=flt.username).values_list("pk", flat=True).first()
        if user_id is None:
            return qs.none()
        qs = qs.filter(actor_user_id=user_id)
    if flt.event_type:
        qs = qs.filter(event_type=flt.event_type)
    if flt.start:
        qs = qs.filter(at__gte=flt.start)
    if flt.end:
        qs = qs.filter(at__lt=flt.end)
    return qs


def audit_events(user, flt: AuditFilter) -> QuerySet[AuditEvent]:
    """The filtered, scoped events, newest first. Refuses AUDIT_FILTER_INVALID, PERMISSION_DENIED."""
    return _apply_filter(audit_events_visible(user), flt)


# --- keyset pages ---------------------------------------------------------------------------------


def encode_cursor(event: AuditEvent) -> str:
    """A position in the (at, id) order: microseconds since the epoch, then the id."""
    micros = (event.at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return f"{micros}_{event.pk}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Refuses AUDIT_CURSOR_INVALID for anything that is not a cursor this module wrote."""
    try:
        micros_text, pk_text = cursor.split("_")
        micros, pk = int(micros_text), int(pk_text)
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    except (ValueError, OverflowError) as exc:
        raise ValidationFailed(
            "AUDIT_CURSOR_INVALID", _("分页参数无效，请从第一页重新查询。"), {"cursor": [cursor[:40]]}
        ) from exc
    if pk <= 0:
        raise ValidationFailed(
            "AUDIT_CURSOR_INVALID", _("分页参数无效，请从第一页重新查询。"), {"cursor": [cursor[:40]]}
        )
    return at, pk


@dataclass(frozen=True)
class AuditPage:
    """One page of events, newest first, with cursors to the older and newer neighbours."""

    events: list[AuditEvent]
    older: str | None
    newer: str | None


def audit_page(
    user, flt: AuditFilter, *, before: str = "", after: str = "", size: int | None = None
) -> AuditPage:
    """A keyset page of `audit_events(user, flt)`.

    `before` = cursor of the last row of the previous page (go older); `after` = cursor of the
    first row of the current page (go newer). One extra row is read to know whether a
    neighbour page exists; no COUNT over the table. `size` defaults to PAGE_SIZE. Refuses
    AUDIT_CURSOR_INVALID.
    """
    size = size or PAGE_SIZE
    qs = audit_events(user, flt).select_related("actor_user", "candidate")
    if before and after:
        raise ValidationFailed(
            "AUDIT_CURSOR_INVALID", _("分页参数无效，请从第一页重新查询。"), {"cursor": ["both"]}
        )
    if after:
        at, pk = decode_cursor(after)
        rows = list(qs.filter(Q(at__gt=at) | Q(at=at, id__gt=pk)).order_by("at", "id")[: size + 1])
        has_newer = len(rows) > size
        events = list(reversed(rows[:size]))
        has_older = True
    else:
        if before:
            at, pk = decode_cursor(before)
            qs = qs.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
        rows = list(qs[: size + 1])
        has_older = len(rows) > size
        events = rows[:size]
        has_newer = bool(before)
    if not events:
        return AuditPage(events=[], older=None, newer=None)
    return AuditPage(
        events=events,
        older=encode_cursor(events[-1]) if has_older else None,
        newer=encode_cursor(events[0]) if has_newer else None,
    )


def audit_event_get(user, pk: int) -> AuditEvent:
    """One event `user` may read; NOT_FOUND when missing or outside the user's scope."""
    event = audit_events_visible(user).select_related("actor_user", "candidate").filter(pk=pk).first()
    if event is None:
        raise NotFound()
    return event


def audit_event_types() -> list[str]:
    """The distinct event types in the trail, sorted (cached for a few minutes).

    A recursive CTE walks the `event_type` index one value at a time (a "loose index scan"),
    so the cost grows with the number of types (dozens), not with the rows (tens of millions).
    Portable SQL: SQLite and PostgreSQL both run it.
    """
    cached = cache.get(EVENT_TYPES_CACHE_KEY)
    if cached is not None:
        return list(cached)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    sql = (
        f"WITH RECURSIVE t(v) AS ("  # noqa: S608 - the table name comes from the model, not input
        f" SELECT MIN(event_type) FROM {table}"
        f" UNION ALL"
        f" SELECT (SELECT MIN(event_type) FROM {table} WHERE event_type > t.v) FROM t WHERE t.v IS NOT NULL"
        f") SELECT v FROM t WHERE v IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        types = [row[0] for row in cursor.fetchall()]
    cache.set(EVENT_TYPES_CACHE_KEY, types, EVENT_TYPES_CACHE_SECONDS)
    return types


# --- masking of payloads --------------------------------------------------------------------------

_ID_KEYS = ("id_number", "id_no", "idcard", "id_card")
_PHONE_KEYS = ("phone", "mobile")
_NAME_KEYS = frozenset(
    {"name", "former_name", "candidate_name", "new_name", "old_name", "full_name", "real_name"}
)
_ADDRESS_KEYS = ("address",)
_VALUE_KEYS = frozenset({"value", "old_value", "new_value", "current", "requested"})


def _mask_address(text: str) -> str:
    return text[:6] + "****" if len(text) > 6 else "*" * len(text)


def _masker_for(key: str, *, personal_names: bool):
    lowered = key.lower()
    if any(k in lowered for k in _ID_KEYS):
        return mask_id_number
    if any(k in lowered for k in _PHONE_KEYS):
        return mask_phone
    if personal_names and lowered in _NAME_KEYS:
        return mask_name
    if any(k in lowered for k in _ADDRESS_KEYS):
        return _mask_address
    return None


def _mask_value(value: Any, masker, *, personal_names: bool) -> Any:
    if isinstance(value, str):
        return masker(value) if masker is not None else scrub(value)
    if isinstance(value, dict):
        return _mask_dict(value, personal_names=personal_names)
    if isinstance(value, list):
        return [_mask_value(v, masker, personal_names=personal_names) for v in value]
    return value


def _mask_dict(data: dict, *, personal_names: bool) -> dict:
    # {"field": "id_number", "new_value": "..."}: the value keys carry what `field` names.
    field_masker = None
    field = data.get("field")
    if isinstance(field, str):
        field_masker = _masker_for(field, personal_names=True)
    masked = {}
    for key, value in data.items():
        masker = _masker_for(str(key), personal_names=personal_names)
        if masker is None and field_masker is not None and str(key).lower() in _VALUE_KEYS:
            masker = field_masker
        masked[key] = _mask_value(value, masker, personal_names=personal_names)
    return masked


def mask_payload(payload: Any, *, subject_type: str = "") -> Any:
    """A copy of an event's before/after with personal data masked.

    ID numbers, phones, addresses and personal names (by key; names only outside the catalog,
    whose `name` keys are course and major names) are masked with `core.masking`; every other
    string is scrubbed of anything shaped like an ID or mobile number. Idempotent: an already
    masked value stays as it is.
    """
    personal_names = not subject_type.startswith("catalog.")
    return _mask_value(payload, None, personal_names=personal_names)


@dataclass(frozen=True)
class PayloadRow:
    """One key of an event's payload, before and after, as display text."""

    key: str
    before: str
    after: str
    changed: bool


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)


def payload_rows(before: Any, after: Any) -> list[PayloadRow]:
    """Before and after side by side, key by key (a non-dict payload becomes one row "—")."""
    b = before if isinstance(before, dict) else ({} if before is None else {"—": before})
    a = after if isinstance(after, dict) else ({} if after is None else {"—": after})
    keys = list(dict.fromkeys([*b.keys(), *a.keys()]))
    rows = []
    for key in keys:
        left, right = _display(b.get(key)), _display(a.get(key))
        rows.append(
            PayloadRow(
                key=str(key), before=left, after=right, changed=key in b and key in a and left != right
            )
        )
    return rows


def payload_text(payload: Any) -> str:
    """A payload as one line of JSON (export cells)."""
    return _display(payload)


# --- sensitive reads that record themselves -------------------------------------------------------


@transaction.atomic
def audit_event_unmasked(*, actor: Actor, pk: int) -> AuditEvent:
    """The event with its payload as stored, for a holder of `records.view_full_id` and `audit.view`.

    Writes `audit.unmasked_viewed` (subject: the event read; candidate: the event's candidate)
    before returning. Refuses PERMISSION_DENIED, and NOT_FOUND for a missing or out-of-scope event
    (nothing is written then).
    """
    user = actor.user
    require_perm(user, Perm.AUDIT_VIEW)
    require_perm(user, Perm.RECORDS_VIEW_FULL_ID)
    event = audit_event_get(user, pk)
    audit_record(
        actor=actor,
        event_type="audit.unmasked_viewed",
        subject=event,
        candidate=event.candidate,
        after={"event_type": event.event_type, "event_at": event.at.isoformat()},
    )
    return event


def audit_export_start(*, actor: Actor, flt: AuditFilter, fmt: str) -> Iterator[AuditEvent]:
    """Record `audit.exported` (with the filter and format) and return the rows to write.

    The event is committed before the first row is read, so an interrupted download is still on
    record. Rows come in keyset batches of EXPORT_BATCH, newest first: constant memory, no
    long-held cursor. Refuses PERMISSION_DENIED (`audit.export`, city level and above) and
    AUDIT_FILTER_INVALID; nothing is written then.
    """
    user = actor.user
    require_perm(user, Perm.AUDIT_EXPORT)
    qs = audit_events(user, flt)  # checks audit.view and the filter before anything is written
    with transaction.atomic():
        audit_record(
            actor=actor,
            event_type="audit.exported",
            subject_type="core.auditevent",
            subject_id="",
            after={"filter": flt.as_dict(), "format": fmt, "office": user.office.region_code},
        )
    return _batched(qs)


def _batched(qs: QuerySet[AuditEvent]) -> Iterator[AuditEvent]:
    qs = qs.select_related("actor_user", "candidate")
    position: tuple[datetime, int] | None = None
    while True:
        batch_qs = qs
        if position is not None:
            at, pk = position
            batch_qs = qs.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
        batch = list(batch_qs[:EXPORT_BATCH])
        yield from batch
        if len(batch) < EXPORT_BATCH:
            return
        position = (batch[-1].at, batch[-1].pk)
