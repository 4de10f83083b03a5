"""manage.py release_due_sittings — record the release of sittings whose release time has passed.

Bookkeeping only: candidates see a sitting's scores from its release instant whether this runs
or not (every read compares the release time with the clock). Safe to run as often as wanted
(cron every minute, or the Celery beat task `zikao.scores.tasks.release_due_sittings`).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from zikao.core.audit import Actor
from zikao.scores.publication import release_due_sittings


class Command(BaseCommand):
    help = "Stamp published_at on sittings whose release time has passed (visibility never depends on it)."

    def handle(self, *args, **options):
        stamped = release_due_sittings(actor=Actor.system("release_due_sittings"))
        if stamped:
            labels = ", ".join(s.label for s in stamped)
            self.stdout.write(f"recorded the release of {len(stamped)} sitting(s): {labels}")
        else:
            self.stdout.write("no sitting due")
