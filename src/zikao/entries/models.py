"""Entries (报考) and everything around them: seats, fees and payments, allocation, admission tickets.

Seats are counted per exam area (考区, a county office) × slot of a sitting in
`AreaSlotCapacity`: entering a course takes a seat with one conditional UPDATE
(`taken < capacity`), so no seat is ever sold twice whatever the concurrency; cancelling or
letting the payment deadline pass gives it back. After the entry window closes, each paid entry
is placed in a centre, room and seat (`SeatAssignment`), and the candidate prints an
`AdmissionTicket` whose QR code carries an unguessable, revocable code.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

ROOM_MAX_SEATS = 30


class Centre(models.Model):
    """考点: an exam centre (usually a school) in an exam area (a county office)."""

    area = models.ForeignKey("accounts.Office", on_delete=models.PROTECT, related_name="centres")
    code = models.CharField(max_length=8)
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=200)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["area", "code"]
        constraints = [models.UniqueConstraint(fields=["area", "code"], name="centre_code_unique_in_area")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Room(models.Model):
    """考场(试场): a room of at most 30 seats."""

    centre = models.ForeignKey(Centre, on_delete=models.PROTECT, related_name="rooms")
    number = models.CharField(max_length=8)
    seats = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(ROOM_MAX_SEATS)]
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["centre", "number"]
        constraints = [
            models.UniqueConstraint(fields=["centre", "number"], name="room_number_unique_in_centre"),
            models.CheckConstraint(
                condition=models.Q(seats__gte=1, seats__lte=ROOM_MAX_SEATS), name="room_at_most_30_seats"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.centre_id}/{self.number}"


class EntrySettings(models.Model):
    """Per-sitting entry settings beyond the window on `Sitting`: payment hold, ticket printing."""

    sitting = models.OneToOneField("catalog.Sitting", on_delete=models.CASCADE, related_name="entry_settings")
    payment_hold_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(5)], help_text=_("未缴费报考的保留时长(分钟)")
    )
    tickets_open_at = models.DateTimeField(null=True, blank=True, help_text=_("准考证开始打印时间"))

    def __str__(self) -> str:
        return f"entry-settings:{self.sitting_id}"


class AreaSlotCapacity(models.Model):
    """Seats of one area in one slot of one sitting and how many are taken: the seat counter.

    `capacity` is derived from the area's active rooms (office can override); `taken` only moves
    inside entry services, by conditional UPDATEs; the check constraint is the last line of defence.
    """

    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.CASCADE, related_name="+")
    area = models.ForeignKey("accounts.Office", on_delete=models.PROTECT, related_name="+")
    slot = models.ForeignKey("catalog.Slot", on_delete=models.CASCADE, related_name="+")
    capacity = models.PositiveIntegerField()
    taken = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sitting", "area", "slot"], name="capacity_once_per_area_slot"),
            models.CheckConstraint(
                condition=models.Q(taken__lte=models.F("capacity")), name="capacity_never_overbooked"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sitting_id}:{self.area_id}:{self.slot_id} {self.taken}/{self.capacity}"


class PaymentOrder(models.Model):
    """One payment for the entries a candidate made in one go. Holds personal data (linked).

    Paid only when the provider's signed notification says so, never on the browser's word.
    `order_no` is random (sent to the provider); `idempotency_key` (from the client) makes a
    repeated submit return the same order.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待支付")
        PAID = "paid", _("已支付")
        EXPIRED = "expired", _("已过期")
        CANCELLED = "cancelled", _("已取消")
        REFUNDED = "refunded", _("已退款")

    order_no = models.CharField(max_length=32, unique=True)
    candidate = models.ForeignKey(
        "candidates.Candidate", on_delete=models.PROTECT, related_name="payment_orders"
    )
    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.PROTECT, related_name="+")
    amount_fen = models.PositiveIntegerField()
    refunded_fen = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    provider = models.CharField(max_length=32)
    provider_trade_no = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (NULL: no key, never unique-clashes)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "idempotency_key"], name="order_idempotency_key_once"
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_fen__lte=models.F("amount_fen")), name="order_refund_at_most_paid"
            ),
        ]

    def __str__(self) -> str:
        return f"order:{self.order_no} {self.status}"


class PaymentNotification(models.Model):
    """Every provider callback as received. Duplicates are stored and applied once (unique event id)."""

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=64)
    order = models.ForeignKey(
        PaymentOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    kind = models.CharField(max_length=16)
    payload = models.JSONField()
    signature_valid = models.BooleanField()
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="notification_once_per_event")
        ]

    def __str__(self) -> str:
        return f"notify:{self.provider}:{self.event_id}"


class Refund(models.Model):
    """Money back for a cancelled paid entry (or an order the office cancels)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("退款中")
        SUCCEEDED = "succeeded", _("已退款")
        FAILED = "failed", _("退款失败")

    order = models.ForeignKey(PaymentOrder, on_delete=models.PROTECT, related_name="refunds")
    entry = models.ForeignKey(
        "entries.Entry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund_no = models.CharField(max_length=32, unique=True)
    amount_fen = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"refund:{self.refund_no} {self.status}"


class Entry(models.Model):
    """报考: one candidate entered for one course in one sitting. Every exam score has one.

    Online entries start PENDING_PAYMENT holding a seat until `hold_expires_at`; a paid order
    confirms them; cancelling (candidate, office) or an unpaid deadline releases the seat.
    """

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("待缴费")
        CONFIRMED = "confirmed", _("已确认")
        CANCELLED = "cancelled", _("已取消")

    class CancelReason(models.TextChoices):
        CANDIDATE = "candidate", _("考生取消")
        UNPAID = "unpaid", _("逾期未缴费")
        OFFICE = "office", _("考办取消")
        CHANGED = "changed", _("改报其他课程")

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="entries")
    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.PROTECT, related_name="entries")
    course = models.ForeignKey("catalog.Course", on_delete=models.PROTECT, related_name="+")
    area = models.ForeignKey(
        "accounts.Office", on_delete=models.PROTECT, related_name="+", help_text=_("考区")
    )
    slot = models.ForeignKey(
        "catalog.Slot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONFIRMED)
    fee_fen = models.PositiveIntegerField(default=0, db_default=0)
    order = models.ForeignKey(
        PaymentOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(
        max_length=12, choices=CancelReason.choices, blank=True, default="", db_default=""
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["sitting", "course"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "sitting", "course"],
                condition=~models.Q(status="cancelled"),
                name="entry_once_per_course_and_sitting",
            ),
            models.UniqueConstraint(
                fields=["candidate", "sitting", "slot"],
                condition=~models.Q(status="cancelled") & models.Q(slot__isnull=False),
                name="entry_one_course_per_slot",
            ),
        ]
        indexes = [
            models.Index(fields=["sitting", "area"]),
            models.Index(fields=["status", "hold_expires_at"], name="entry_hold_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.sitting_id}:{self.candidate_id}:{self.course_id}"


class EntrySubmission(models.Model):
    """One entry request a candidate submitted (enter courses, or swap courses) with the client's
    idempotency key: the same key again returns the same entries and writes nothing.

    Only successful submissions are kept (a refused one wrote nothing, so it may be retried);
    `request` is the normalised request, so a key reused for a different request is refused.
    """

    class Kind(models.TextChoices):
        CREATE = "create", _("报考")
        CHANGE = "change", _("改报")

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="+")
    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=64)
    request = models.JSONField()
    entries = models.ManyToManyField(Entry, related_name="submissions")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["candidate", "idempotency_key"], name="entry_submission_key_once")
        ]

    def __str__(self) -> str:
        return f"submission:{self.candidate_id}:{self.idempotency_key}"


class AllocationRun(models.Model):
    """One run of seat allocation for a sitting: deterministic, re-runnable; its report kept."""

    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"allocation:{self.sitting_id}:{self.pk}"


class SeatAssignment(models.Model):
    """座位: a confirmed entry placed in a room and seat for its slot."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="seat")
    slot = models.ForeignKey("catalog.Slot", on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="assignments")
    seat_no = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(ROOM_MAX_SEATS)]
    )
    run = models.ForeignKey(AllocationRun, on_delete=models.PROTECT, related_name="assignments")

    class Meta:
        ordering = ["room", "slot", "seat_no"]
        constraints = [
            models.UniqueConstraint(fields=["room", "slot", "seat_no"], name="seat_once_per_room_slot")
        ]

    def __str__(self) -> str:
        return f"{self.room_id}/{self.slot_id}#{self.seat_no}"


class AdmissionTicket(models.Model):
    """准考证 of one candidate for one sitting. `code` (in the QR) is random and revocable.

    Re-issuing revokes the old ticket (`revoked_at`, `superseded_by`); the door check says so.
    """

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="tickets")
    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=32, unique=True)
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    superseded_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "sitting"],
                condition=models.Q(revoked_at__isnull=True),
                name="ticket_one_valid_per_candidate_sitting",
            )
        ]

    def __str__(self) -> str:
        return f"ticket:{self.candidate_id}@{self.sitting_id}"
