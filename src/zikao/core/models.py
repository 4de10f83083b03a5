"""The audit trail: one append-only table that every service writes to."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("AuditEvent is append-only")

    def delete(self):
        raise TypeError("AuditEvent is append-only")


class AuditEvent(models.Model):
    """One change or sensitive read: when, who, about what, what it was before and after.

    Append-only: saving an existing row, deleting, and queryset update/delete all raise; on
    PostgreSQL a trigger refuses UPDATE and DELETE as well. Holds personal data (before/after).
    """

    class ActorKind(models.TextChoices):
        STAFF = "staff", _("工作人员")
        CANDIDATE = "candidate", _("考生")
        PUBLIC = "public", _("公众")
        SYSTEM = "system", _("系统")

    at = models.DateTimeField(db_index=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=100, blank=True)
    event_type = models.CharField(max_length=64)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    candidate = models.ForeignKey(
        "candidates.Candidate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["candidate", "at"]),
            models.Index(fields=["subject_type", "subject_id"]),
            # The audit viewer's filters (staff user, event type), newest first.
            models.Index(fields=["actor_user", "at"], name="audit_actor_at"),
            models.Index(fields=["event_type", "at"], name="audit_type_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.event_type} {self.subject_type}#{self.subject_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise TypeError("AuditEvent is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("AuditEvent is append-only")
