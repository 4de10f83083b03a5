"""manage.py import_scores FILE --sitting 202610 [--dry-run] [--replace-unpublished] [--user NAME]

Imports a marking centre's score file (CSV UTF-8 or XLSX) for one sitting through the same
subsystem as the office pages (zikao.scores.importers): the file is stored with its SHA-256,
every row is checked, and without --dry-run all valid rows are written in one transaction. A
progress line goes to stderr; the report (counts, reasons, where the failed-rows file is) to
stdout. The same file again changes nothing; a run that was killed is finished by running the
command again. Exit status 1 when the file is refused as a whole or another run holds it.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from zikao.catalog.models import Sitting
from zikao.core.audit import Actor
from zikao.core.errors import DomainError
from zikao.scores.import_files import media_path
from zikao.scores.import_sql import ROW_CODES
from zikao.scores.importers import score_import_execute, score_import_store_path
from zikao.scores.models import ScoreImport


class Command(BaseCommand):
    help = "Import a marking centre's score file (CSV UTF-8 or XLSX) for one sitting."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--sitting", required=True, help="sitting label, e.g. 202610")
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report every row, write nothing"
        )
        parser.add_argument(
            "--replace-unpublished",
            action="store_true",
            help="replace different scores of an unpublished sitting (the old ones stay as history)",
        )
        parser.add_argument("--user", help="act as this staff user (needs the score-import permission)")
        parser.add_argument("--failed-rows", type=Path, help="also copy the failed-rows CSV here")
        parser.add_argument(
            "--wait", type=float, default=60.0, help="seconds to wait for a run of the same file to end"
        )
        parser.add_argument("--quiet-progress", action="store_true", help="no progress line on stderr")

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        sitting = Sitting.objects.filter(label=options["sitting"]).first()
        if sitting is None:
            raise CommandError(f"sitting {options['sitting']} does not exist")
        actor = self._actor(options.get("user"))
        run = ScoreImport.Run.CHECK if options["dry_run"] else ScoreImport.Run.COMMIT
        try:
            imp, created = score_import_store_path(
                actor=actor, sitting=sitting, path=path, replace_unpublished=options["replace_unpublished"]
            )
        except DomainError as exc:
            raise CommandError(f"{path.name}: {exc.code}: {exc.message}") from exc
        seen = "" if created else "  (file seen before)"
        self.stdout.write(
            f"score import #{imp.pk}  sitting {sitting.label}  {imp.original_name}  "
            f"{imp.size / 1e6:.1f} MB  sha256 {imp.sha256[:16]}…{seen}"
        )
        if imp.state == ScoreImport.State.COMMITTED:
            self.stdout.write(
                f"already imported on {imp.committed_at:%Y-%m-%d %H:%M}: nothing changed "
                f"({imp.rows_new} new, {imp.rows_unchanged} unchanged, {imp.rows_failed} failed rows then)"
            )
            return
        listener = None if options["quiet_progress"] else _ProgressLine(self.stderr)
        started = time.perf_counter()
        try:
            imp = score_import_execute(
                actor=actor,
                import_id=imp.pk,
                run=run,
                replace_unpublished=options["replace_unpublished"] or None,
                listener=listener,
                wait_seconds=options["wait"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        finally:
            if listener is not None:
                listener.end()
        seconds = time.perf_counter() - started
        self._report(imp, seconds, options.get("failed_rows"))
        if imp.state == ScoreImport.State.FAILED:
            raise CommandError(f"{imp.error_code}: {imp.error_message}", returncode=1)

    @staticmethod
    def _actor(username: str | None) -> Actor:
        if not username:
            return Actor.system("import_scores")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"user {username} does not exist")
        return Actor.staff(user)

    def _report(self, imp: ScoreImport, seconds: float, copy_to: Path | None) -> None:
        if imp.state == ScoreImport.State.FAILED:
            return
        done = "checked (dry run, nothing written)" if imp.state == ScoreImport.State.CHECKED else "committed"
        rows = imp.rows_total or 0
        rate = rows / seconds if seconds > 0 else 0.0
        out = self.stdout.write
        out(f"{done}: {rows:,} rows in {seconds:.2f} s ({rate:,.0f} rows/s)")
        verb = "would be " if imp.state == ScoreImport.State.CHECKED else ""
        out(f"  new ({verb}written)       {imp.rows_new or 0:>12,}")
        out(f"  unchanged                {imp.rows_unchanged or 0:>12,}")
        out(f"  replaced (unpublished)   {imp.rows_replaced or 0:>12,}")
        out(f"  failed                   {imp.rows_failed or 0:>12,}")
        for code, count in (imp.error_counts or {}).items():
            message = str(ROW_CODES.get(code, "")).replace("{ref}", "…").replace("{expected}", "…")
            message = message.replace("{sitting}", imp.sitting.label)
            out(f"    {code:<24} {count:>10,}  {message}")
        if imp.failed_rows_name:
            source = media_path(imp.failed_rows_name)
            if copy_to is not None:
                shutil.copyfile(source, copy_to)
                out(f"failed rows: {copy_to}")
            else:
                out(f"failed rows: {source}")


class _ProgressLine:
    """`phase  [#####.....]  45%  2,250,000 / 5,000,000` on stderr, redrawn in place on a terminal."""

    WIDTH = 30

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.last = 0.0
        self.last_phase = ""
        self.drawn = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == self.last_phase and now - self.last < (0.2 if self.tty else 2.0):
            return
        self.last = now
        label = ScoreImport.Phase(phase).label if phase in ScoreImport.Phase.values else phase
        if total:
            share = min(1.0, done / total)
            filled = int(share * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            line = f"{label}  [{bar}] {share * 100:5.1f}%  {done:,} / {total:,}"
        else:
            line = f"{label}  {done:,}"
        if self.tty:
            self.stream.write("\r" + line.ljust(78), ending="")
            self.stream.flush()
            self.drawn = True
        else:
            self.stream.write(line)
        self.last_phase = phase

    def end(self) -> None:
        if self.drawn:
            self.stream.write("")
