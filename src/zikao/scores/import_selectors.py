"""Reads of score imports for the office pages (scores.importers writes them).

Imports are provincial work: every read needs SCORES_IMPORT (provincial level). An import that
does not exist raises `NotFound` like everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.db.models import QuerySet

from zikao.accounts.permissions import Perm, require_perm
from zikao.core.errors import NotFound
from zikao.scores.import_files import media_path
from zikao.scores.import_runtime import run_is_live
from zikao.scores.import_sql import ROW_CODES
from zikao.scores.models import ScoreImport

ACTIVE_STATES = (ScoreImport.State.QUEUED, ScoreImport.State.RUNNING)


def score_imports(user) -> QuerySet[ScoreImport]:
    """Every import, newest first (PERMISSION_DENIED without SCORES_IMPORT)."""
    require_perm(user, Perm.SCORES_IMPORT)
    return ScoreImport.objects.select_related("sitting", "created_by").order_by("-created_at", "-id")


def score_import_get(user, pk) -> ScoreImport:
    """One import (PERMISSION_DENIED without SCORES_IMPORT, NOT_FOUND when there is none)."""
    require_perm(user, Perm.SCORES_IMPORT)
    found = (
        ScoreImport.objects.select_related("sitting", "created_by", "committed_by", "requested_by")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound()
    return found


@dataclass(frozen=True)
class ImportStatus:
    """Where an import stands, for its page and the progress endpoint."""

    state: str
    state_label: str
    run: str
    run_label: str
    phase: str
    phase_label: str
    rows_done: int
    rows_total: int
    live: bool  # a run holds the import's lock now
    interrupted: bool  # said to be running, but no run holds the lock (killed, restarted)
    can_run: bool  # a check or commit may be requested now

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES and not self.interrupted

    @property
    def percent(self) -> int | None:
        """0–100 within the current phase, or None when the phase has no measurable progress."""
        measured = (ScoreImport.Phase.LOADING, ScoreImport.Phase.COMMITTING)
        if not self.active or not self.rows_total or self.phase not in measured:
            return None  # one long statement (checking, the report): no partial progress to show
        return min(100, int(100 * self.rows_done / self.rows_total))

    def as_json(self) -> dict:
        return {
            "state": self.state,
            "state_label": self.state_label,
            "run": self.run,
            "run_label": self.run_label,
            "phase": self.phase,
            "phase_label": self.phase_label,
            "rows_done": self.rows_done,
            "rows_total": self.rows_total,
            "percent": self.percent,
            "active": self.active,
            "interrupted": self.interrupted,
        }


def score_import_status(imp: ScoreImport) -> ImportStatus:
    """The import's state, the phase and progress of a run in flight, and what may be done."""
    live = run_is_live(imp.pk)
    interrupted = imp.state == ScoreImport.State.RUNNING and not live
    return ImportStatus(
        state=imp.state,
        state_label=str(ScoreImport.State(imp.state).label),
        run=imp.run,
        run_label=str(ScoreImport.Run(imp.run).label) if imp.run else "",
        phase=imp.phase,
        phase_label=str(ScoreImport.Phase(imp.phase).label) if imp.phase in ScoreImport.Phase.values else "",
        rows_done=imp.rows_done,
        rows_total=imp.rows_total,
        live=live,
        interrupted=interrupted,
        can_run=imp.state != ScoreImport.State.COMMITTED and not live,
    )


@dataclass(frozen=True)
class ErrorLine:
    code: str
    message: str
    count: int


def score_import_errors(imp: ScoreImport, *, sitting_label: str | None = None) -> list[ErrorLine]:
    """The last run's failed rows by reason, in the order reasons are tested."""
    label = sitting_label or imp.sitting.label
    lines = []
    for code, count in (imp.error_counts or {}).items():
        template = str(ROW_CODES.get(code, code))
        message = (
            template.replace("{sitting}", label).replace("{expected}", "…").replace("（首次在第{ref}行）", "")
        )
        lines.append(ErrorLine(code, message.replace("{ref}", "…"), int(count)))
    order = list(ROW_CODES)
    return sorted(lines, key=lambda e: order.index(e.code) if e.code in order else len(order))


def score_import_failed_rows_path(imp: ScoreImport) -> Path:
    """The stored failed-rows CSV of the last run (NOT_FOUND when there is none)."""
    if not imp.failed_rows_name:
        raise NotFound()
    path = media_path(imp.failed_rows_name)
    if not path.is_file():
        raise NotFound()
    return path


def score_import_columns(imp: ScoreImport) -> list[str]:
    """The file's header, for showing its failed rows (CSV: read from the stored file's first
    line; XLSX, or a file that cannot be read: "第N列")."""
    from django.utils.translation import gettext

    from zikao.core.errors import DomainError
    from zikao.scores.import_files import csv_start

    widest = max((len(e.get("fields", [])) for e in imp.sample_errors or []), default=0)
    columns: list[str] = []
    if imp.file_format == "csv":
        try:
            columns = list(csv_start(media_path(imp.stored_name)).layout.columns)
        except (OSError, DomainError):
            columns = []
    return [
        columns[i] if i < len(columns) and columns[i] else gettext("第%(n)s列") % {"n": i + 1}
        for i in range(widest)
    ]
