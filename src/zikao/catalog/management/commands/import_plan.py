"""manage.py import_plan FILE [FILE ...] — import plan / substitution / politics files.

Each file is parsed against the Course table and stored atomically; on any problem the
line-numbered problems go to stderr, nothing of that file is stored, and the command exits
with status 1 (after trying the remaining files).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from zikao.catalog.models import Plan, PlanSubstitution
from zikao.catalog.planfile import PlanFileError
from zikao.catalog.services import plan_file_import
from zikao.core.audit import Actor


class Command(BaseCommand):
    help = "Import exam plan files (TOML, docs/plan-format.md): plans, substitution tables, politics rules."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)

    def handle(self, *args, files: list[Path], **options):
        actor = Actor.system("import_plan")
        failed = 0
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.stderr.write(f"{path}: {exc}")
                failed += 1
                continue
            try:
                stored = plan_file_import(actor=actor, text=text, source_name=path.name)
            except PlanFileError as exc:
                self.stderr.write(str(exc.message))
                failed += 1
                continue
            self.stdout.write(self._describe(path, stored))
        if failed:
            raise CommandError(f"{failed} file(s) refused; nothing of them was loaded.", returncode=1)

    @staticmethod
    def _describe(path: Path, stored) -> str:
        if isinstance(stored, Plan):
            return (
                f"{path.name}: plan {stored.major.code} {stored.major.name} "
                f"({stored.major.get_level_display()}) {stored.version}版, {stored.items.count()} items, "
                f"min {stored.min_total_credits} credits"
            )
        if isinstance(stored, PlanSubstitution):
            return (
                f"{path.name}: substitution table {stored.table_id} "
                f"({stored.from_version}→{stored.to_version}), {len(stored.spec['rows'])} rows"
            )
        return f"{path.name}: politics rules {stored.rules_id}, {len(stored.spec['rules'])} rules"
