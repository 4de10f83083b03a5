"""Per-sitting entry settings the province office sets (`EntrySettings`): how long an unpaid
entry holds its seat, and from when admission tickets can be printed.

The entry window itself lives on `Sitting` and is changed with `catalog.services.sitting_save`.
Both settings are provincial (one value for the whole province's sitting): staff need
ENTRIES_MANAGE at a province office. A changed hold applies to entries made afterwards (an
existing hold keeps its deadline); the entry services keep the settings per process
(`entries.cache`), so a change busts the sitting's token.
"""

from __future__ import annotations

from datetime import datetime, time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zikao.accounts.permissions import Perm, require_province_perm
from zikao.catalog.models import Sitting
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import ValidationFailed
from zikao.entries.models import EntrySettings

HOLD_MINUTES_MIN = 5
HOLD_MINUTES_MAX = 1440  # one day

# What the entry services use when a sitting has no settings row (the model's default).
DEFAULT_HOLD_MINUTES: int = EntrySettings._meta.get_field("payment_hold_minutes").default

ENTRY_SETTINGS_INVALID = "ENTRY_SETTINGS_INVALID"
ENTRY_SETTINGS_HOLD_INVALID = "ENTRY_SETTINGS_HOLD_INVALID"
ENTRY_SETTINGS_BAD_TIME = "ENTRY_SETTINGS_BAD_TIME"
ENTRY_SETTINGS_TICKETS_TOO_LATE = "ENTRY_SETTINGS_TICKETS_TOO_LATE"
ENTRY_SETTINGS_TICKETS_TOO_EARLY = "ENTRY_SETTINGS_TICKETS_TOO_EARLY"


# --- pure -------------------------------------------------------------------------------------


def first_day_starts(sitting: Sitting) -> datetime:
    """Midnight (local time) of the sitting's first exam day."""
    return timezone.make_aware(datetime.combine(sitting.first_day, time.min), timezone.get_default_timezone())


def entry_settings_problems(
    *,
    payment_hold_minutes,
    tickets_open_at,
    first_day_starts_at: datetime,
    entry_closes_at: datetime | None,
) -> list[dict[str, str]]:
    """The reasons a settings change is refused, each {code, field, message} ([] when fine):
    the hold is a whole number of minutes in 5–1440; tickets open at an aware instant before the
    first exam day and not before the entry window closes (seats are allocated after it)."""
    problems: list[dict[str, str]] = []
    if (
        not isinstance(payment_hold_minutes, int)
        or isinstance(payment_hold_minutes, bool)
        or not HOLD_MINUTES_MIN <= payment_hold_minutes <= HOLD_MINUTES_MAX
    ):
        problems.append(
            {
                "code": ENTRY_SETTINGS_HOLD_INVALID,
                "field": "payment_hold_minutes",
                "message": str(
                    _("缴费保留时长须为%(min)s至%(max)s分钟之间的整数。")
                    % {"min": HOLD_MINUTES_MIN, "max": HOLD_MINUTES_MAX}
                ),
            }
        )
    if tickets_open_at is None:
        return problems
    if not isinstance(tickets_open_at, datetime) or timezone.is_naive(tickets_open_at):
        problems.append(
            {
                "code": ENTRY_SETTINGS_BAD_TIME,
                "field": "tickets_open_at",
                "message": str(_("时间须带时区。")),
            }
        )
        return problems
    if tickets_open_at >= first_day_starts_at:
        problems.append(
            {
                "code": ENTRY_SETTINGS_TICKETS_TOO_LATE,
                "field": "tickets_open_at",
                "message": str(
                    _("准考证开始打印时间须早于首个考试日(%(day)s)。")
                    % {"day": timezone.localtime(first_day_starts_at).date().isoformat()}
                ),
            }
        )
    elif entry_closes_at is not None and tickets_open_at < entry_closes_at:
        problems.append(
            {
                "code": ENTRY_SETTINGS_TICKETS_TOO_EARLY,
                "field": "tickets_open_at",
                "message": str(
                    _("准考证开始打印时间不能早于报名截止时间(%(closes)s)。")
                    % {"closes": timezone.localtime(entry_closes_at).strftime("%Y-%m-%d %H:%M")}
                ),
            }
        )
    return problems


# --- writes -----------------------------------------------------------------------------------


def _snapshot(hold: int, tickets_open_at: datetime | None) -> dict:
    return {
        "payment_hold_minutes": hold,
        "tickets_open_at": timezone.localtime(tickets_open_at).isoformat() if tickets_open_at else None,
    }


def _entry_settings_changed(sitting_id: int) -> None:
    """The entry services keep the hold minutes per process (`entries.cache`): bump the
    sitting's token now and again after commit (`bust_sitting` does both)."""
    from zikao.entries import cache as entry_cache

    entry_cache.bust_sitting(sitting_id)


@transaction.atomic
def entry_settings_set(
    *, actor: Actor, sitting: Sitting, payment_hold_minutes: int, tickets_open_at: datetime | None
) -> EntrySettings:
    """Set the sitting's payment hold (minutes) and ticket printing start (None: not yet).

    Refuses (ValidationFailed, nothing written; `fields["problems"]` lists each):
    ENTRY_SETTINGS_HOLD_INVALID (not 5–1440), ENTRY_SETTINGS_BAD_TIME (a naive time),
    ENTRY_SETTINGS_TICKETS_TOO_LATE (not before the first exam day),
    ENTRY_SETTINGS_TICKETS_TOO_EARLY (before the entry window closes); the code is
    ENTRY_SETTINGS_INVALID when several differ. PERMISSION_DENIED: not ENTRIES_MANAGE at a
    province office. No change, no event. Event: 'entry_settings.changed' (before/after)."""
    require_province_perm(actor, Perm.ENTRIES_MANAGE)
    locked = Sitting.objects.select_for_update().get(pk=sitting.pk)
    problems = entry_settings_problems(
        payment_hold_minutes=payment_hold_minutes,
        tickets_open_at=tickets_open_at,
        first_day_starts_at=first_day_starts(locked),
        entry_closes_at=locked.entry_closes_at,
    )
    if problems:
        codes = {p["code"] for p in problems}
        raise ValidationFailed(
            codes.pop() if len(codes) == 1 else ENTRY_SETTINGS_INVALID,
            "；".join(p["message"] for p in problems),
            {"problems": problems},
        )
    row = EntrySettings.objects.select_for_update().filter(sitting=locked).first()
    before = (
        _snapshot(row.payment_hold_minutes, row.tickets_open_at)
        if row is not None
        else _snapshot(DEFAULT_HOLD_MINUTES, None)
    )
    after = _snapshot(payment_hold_minutes, tickets_open_at)
    if row is not None and before == after:
        return row
    if row is None:
        row = EntrySettings(sitting=locked)
    row.payment_hold_minutes = payment_hold_minutes
    row.tickets_open_at = tickets_open_at
    row.save()
    audit_record(
        actor=actor,
        event_type="entry_settings.changed",
        subject=locked,
        before=before,
        after=after,
    )
    _entry_settings_changed(locked.pk)
    return row
