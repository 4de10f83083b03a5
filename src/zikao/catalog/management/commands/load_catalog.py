"""manage.py load_catalog — load the shipped courses and every shipped plan file (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from zikao.catalog.models import Course, Plan, PlanSubstitution, PoliticsRuleSet
from zikao.catalog.planfile import PlanFileError
from zikao.catalog.services import catalog_load_reference_data
from zikao.core.audit import Actor


class Command(BaseCommand):
    help = "Load data/courses.csv and every file of data/plans (plans, substitution tables, politics rules)."

    def handle(self, *args, **options):
        try:
            catalog_load_reference_data(actor=Actor.system("load_catalog"))
        except PlanFileError as exc:
            self.stderr.write(str(exc.message))
            raise CommandError("a shipped plan file was refused; nothing was loaded.", returncode=1) from None
        self.stdout.write(
            f"courses: {Course.objects.count()}, plans: {Plan.objects.count()}, "
            f"substitution tables: {PlanSubstitution.objects.count()}, "
            f"politics rule sets: {PoliticsRuleSet.objects.count()}"
        )
