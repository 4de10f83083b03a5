"""manage.py expire_entry_holds — cancel unpaid entries whose payment hold has passed.

Their seats go back to the exam area, their orders expire, and refunds the provider has not
answered are requested again. Safe to run as often as wanted and alongside everything else
(cron every minute, or the Celery beat task `zikao.entries.tasks.expire_entry_holds`).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from zikao.entries.payments import holds_expire, refunds_resend


class Command(BaseCommand):
    help = "Cancel unpaid entries whose payment hold has passed and give their seats back."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="entries per transaction")

    def handle(self, *args, **options):
        batch = max(1, int(options["batch_size"]))
        report = holds_expire(batch_size=batch)
        resent = refunds_resend()
        self.stdout.write(
            f"released {report.entries} lapsed hold(s), expired {report.orders} order(s), "
            f"re-sent {resent} refund request(s)"
        )
