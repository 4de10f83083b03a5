"""Score import (成绩导入): the marking centres' files of a sitting, checked then committed.

The subsystem, end to end:

1. **Upload** (`score_import_upload`): the bytes are stored privately under
   MEDIA_ROOT/imports with their SHA-256 and uploader; the same bytes for the same sitting are
   recognised and nothing new is created. A file that cannot be a score file at all (empty,
   binary, old .xls, not UTF-8, a header without the needed columns) is refused on the spot.
2. **Check** (dry run): every row is validated and reported — the first reason it cannot be
   imported (`import_sql.ROW_CODES`: unknown candidate, course not in the sitting, not entered,
   out of range, duplicate in the file, conflict with a different existing score, ...) or what
   committing it would do (new / unchanged / replace). Nothing is written but the report.
3. **Commit**: the same check again inside one transaction that holds the sitting's row lock
   (publication waits for it), then every valid row is inserted; all of them or none.

Policy on existing scores: a row identical to the current score is "unchanged" (no write). A
different result for a score that exists is refused — SCORE_PUBLISHED once the sitting is
released (that is a correction: `score_correct` / correction requests), SCORE_CONFLICT before
release unless the run is told to `replace_unpublished`; then the old score stays as history
(no longer current, superseded by the new row, with the reason). A score for a candidate who
had none is added even after release (a late result), as `score_record` does.

Re-running is always safe: a committed import is final (its commit again changes nothing), and
a run that died mid-way (killed, restarted) left nothing behind, so running it again finishes
the job. Runs are started in the background from the office pages (`score_import_request`)
or run in the foreground by `manage.py import_scores` (`score_import_execute`).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.accounts.permissions import Perm, PermissionDenied, require_perm
from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError
from zikao.scores import import_files
from zikao.scores.cache import releases_changed
from zikao.scores.import_files import FileRejected, Layout, media_path
from zikao.scores.import_runtime import Progress, RunLock, run_is_live, start_in_background
from zikao.scores.import_sql import (
    ACTION_NEW,
    ACTION_REPLACE,
    ACTION_UNCHANGED,
    ROW_CODES,
    Staging,
    copy_error_line,
)
from zikao.scores.models import ScoreImport
from zikao.scores.selectors import sitting_release

log = logging.getLogger(__name__)

SAMPLE_ERRORS = 50

try:  # COPY runs on psycopg's own cursor: its errors are not wrapped in Django's
    from psycopg.errors import IntegrityError as _PsycopgIntegrityError

    _INTEGRITY_ERRORS: tuple[type[Exception], ...] = (IntegrityError, _PsycopgIntegrityError)
except ImportError:  # pragma: no cover - SQLite-only installations
    _INTEGRITY_ERRORS = (IntegrityError,)
FAILED_HEADER_EXTRA = ("行号", "错误代码", "错误说明")


def _require(actor: Actor) -> None:
    """Staff need SCORES_IMPORT (provincial); the system (a command run by the operator) may."""
    if actor.kind == "system":
        return
    if actor.kind != "staff":
        raise PermissionDenied(Perm.SCORES_IMPORT)
    require_perm(actor.user, Perm.SCORES_IMPORT)


def _snapshot(imp: ScoreImport) -> dict:
    return {
        "sitting": imp.sitting.label,
        "file": imp.original_name,
        "sha256": imp.sha256,
        "size": imp.size,
        "state": imp.state,
        "replace_unpublished": imp.replace_unpublished,
        "rows_new": imp.rows_new,
        "rows_unchanged": imp.rows_unchanged,
        "rows_replaced": imp.rows_replaced,
        "rows_failed": imp.rows_failed,
    }


def _layout_of(path: Path, file_format: str) -> Layout:
    if file_format == "xlsx":
        return import_files.xlsx_layout(path)
    return import_files.csv_start(path).layout


# --- upload ---------------------------------------------------------------------------------------


def score_import_upload(
    *,
    actor: Actor,
    sitting: Sitting,
    chunks: Iterable[bytes],
    original_name: str,
    replace_unpublished: bool = False,
) -> tuple[ScoreImport, bool]:
    """Store a marking centre's file for `sitting`; return (the import, whether it is new).

    Refuses PERMISSION_DENIED without SCORES_IMPORT, and a file that cannot be a score file:
    IMPORT_FILE_EMPTY, IMPORT_FILE_TOO_LARGE, IMPORT_FILE_BINARY, IMPORT_FILE_XLS (old Excel),
    IMPORT_FILE_XLSX_INVALID, IMPORT_FILE_ENCODING (GBK, UTF-16...), IMPORT_FILE_HEADER (columns
    missing or twice); nothing is kept then. The same bytes already uploaded for the sitting
    return that import unchanged (created False), and no second copy is kept.
    """
    _require(actor)
    stored = import_files.store(chunks)
    path = media_path(stored.name)
    try:
        _layout_of(path, stored.file_format)
    except FileRejected:
        path.unlink(missing_ok=True)
        raise
    existing = ScoreImport.objects.filter(sitting=sitting, sha256=stored.sha256).first()
    if existing is not None:
        _keep_one_copy(existing, path)
        return existing, False
    try:
        with transaction.atomic():
            imp = ScoreImport.objects.create(
                sitting=sitting,
                original_name=(original_name or "scores")[-255:],
                stored_name=stored.name,
                sha256=stored.sha256,
                size=stored.size,
                file_format=stored.file_format,
                replace_unpublished=replace_unpublished,
                created_at=clock.now(),
                created_by=actor.user if actor.kind == "staff" else None,
            )
            audit_record(actor=actor, event_type="scores.import_uploaded", subject=imp, after=_snapshot(imp))
    except IntegrityError:
        # The same file arrived twice at once (a double submit): the first one wins.
        existing = ScoreImport.objects.get(sitting=sitting, sha256=stored.sha256)
        _keep_one_copy(existing, path)
        return existing, False
    return imp, True


def _keep_one_copy(existing: ScoreImport, new_path: Path) -> None:
    old_path = media_path(existing.stored_name)
    if old_path.exists():
        new_path.unlink(missing_ok=True)
    else:  # the kept copy went missing: the identical new bytes take its place
        old_path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new_path, old_path)


def score_import_store_path(
    *, actor: Actor, sitting: Sitting, path: Path, replace_unpublished: bool = False
) -> tuple[ScoreImport, bool]:
    """`score_import_upload` of a file on disk (the command line)."""
    return score_import_upload(
        actor=actor,
        sitting=sitting,
        chunks=import_files.file_chunks(path),
        original_name=path.name,
        replace_unpublished=replace_unpublished,
    )


# --- requesting a run (office pages) -----------------------------------------------------------------


@transaction.atomic
def score_import_request(
    *, actor: Actor, score_import: ScoreImport, run: str, replace_unpublished: bool | None = None
) -> ScoreImport:
    """Queue a check (dry run) or a commit of the import; it runs in the background.

    Refuses PERMISSION_DENIED, IMPORT_RUN_INVALID for an unknown run kind,
    IMPORT_ALREADY_COMMITTED (a committed import is final: nothing would change) and
    IMPORT_RUNNING while a run of this import is in progress. `replace_unpublished` (commit
    and check) records whether different unpublished scores are to be replaced.
    """
    _require(actor)
    if run not in ScoreImport.Run.values:
        raise DomainError("IMPORT_RUN_INVALID", _("未知的操作。"), {"run": run})
    imp = ScoreImport.objects.select_for_update().get(pk=score_import.pk)
    if imp.state == ScoreImport.State.COMMITTED:
        raise DomainError(
            "IMPORT_ALREADY_COMMITTED", _("该文件已导入，再次导入不会有任何变化。"), {"import": imp.pk}
        )
    if run_is_live(imp.pk):
        raise DomainError("IMPORT_RUNNING", _("该文件正在处理中，请稍候。"), {"import": imp.pk})
    imp.state = ScoreImport.State.QUEUED
    imp.run = run
    imp.phase = ""
    imp.rows_done = 0
    imp.error_code = ""
    imp.error_message = ""
    imp.requested_by = actor.user if actor.kind == "staff" else None
    if replace_unpublished is not None:
        imp.replace_unpublished = replace_unpublished
    imp.save(
        update_fields=[
            "state",
            "run",
            "phase",
            "rows_done",
            "error_code",
            "error_message",
            "requested_by",
            "replace_unpublished",
        ]
    )
    audit_record(
        actor=actor,
        event_type="scores.import_requested",
        subject=imp,
        after={"run": run, "replace_unpublished": imp.replace_unpublished},
    )
    user_id = actor.user.pk if actor.kind == "staff" else None
    transaction.on_commit(lambda: start_in_background(imp.pk, run, user_id, actor.ip))
    return imp


# --- running -----------------------------------------------------------------------------------------


def score_import_execute_by_id(import_id: int, run: str, user_id: int | None, ip: str | None) -> ScoreImport:
    """Background entry point (thread or Celery task): rebuild the actor, then execute."""
    from django.contrib.auth import get_user_model

    if user_id is None:
        actor = Actor.system("score-import")
    else:
        actor = Actor.staff(get_user_model().objects.get(pk=user_id), ip=ip)
    return score_import_execute(actor=actor, import_id=import_id, run=run)


def score_import_execute(
    *,
    actor: Actor,
    import_id: int,
    run: str,
    replace_unpublished: bool | None = None,
    listener: Callable[[str, int, int], None] | None = None,
    wait_seconds: float = 0.0,
) -> ScoreImport:
    """Run a check or a commit of the import now, in this process; return the import after it.

    A committed import is returned as it is (nothing changes). Refuses PERMISSION_DENIED and
    IMPORT_RUNNING when another run of the import holds its lock (waiting up to
    `wait_seconds` for it first). A file found unreadable while running (IMPORT_FILE_*), a
    concurrent change of the same scores (IMPORT_CONCURRENT_CHANGE) or an unexpected error
    (IMPORT_INTERNAL_ERROR, logged) ends the run with the import in state FAILED and the reason
    on it; nothing is written by a failed commit. `listener(phase, done, total)` hears progress.
    """
    _require(actor)
    if run not in ScoreImport.Run.values:
        raise DomainError("IMPORT_RUN_INVALID", _("未知的操作。"), {"run": run})
    lock = RunLock(import_id)
    if not lock.acquire(wait_seconds=wait_seconds):
        raise DomainError("IMPORT_RUNNING", _("该文件正在处理中，请稍候。"), {"import": import_id})
    try:
        imp = ScoreImport.objects.select_related("sitting").get(pk=import_id)
        if imp.state == ScoreImport.State.COMMITTED:
            return imp
        if replace_unpublished is not None:
            imp.replace_unpublished = replace_unpublished
        now = clock.now()
        ScoreImport.objects.filter(pk=imp.pk).update(
            state=ScoreImport.State.RUNNING,
            run=run,
            phase=ScoreImport.Phase.LOADING,
            rows_done=0,
            rows_total=0,
            started_at=now,
            finished_at=None,
            error_code="",
            error_message="",
            replace_unpublished=imp.replace_unpublished,
        )
        progress = Progress(imp.pk, listener=listener)
        try:
            return _Run(imp, run, actor, progress).go()
        except DomainError as exc:
            # Recorded on the import for the page and the command line to show.
            progress.stop()
            _fail(imp, exc.code, str(exc.message))
            return ScoreImport.objects.select_related("sitting").get(pk=imp.pk)
        except Exception:
            progress.stop()
            log.exception("score import %s: %s run failed", imp.pk, run)
            _fail(imp, "IMPORT_INTERNAL_ERROR", gettext("处理时发生内部错误，已记录，请联系系统管理员。"))
            raise
        finally:
            progress.close()
    finally:
        lock.release()


def _fail(imp: ScoreImport, code: str, message: str) -> None:
    ScoreImport.objects.filter(pk=imp.pk).update(
        state=ScoreImport.State.FAILED,
        phase="",
        error_code=code,
        error_message=message,
        finished_at=clock.now(),
    )


def _city_codes() -> list[str]:
    return sorted(set(Office.objects.filter(level=Office.Level.CITY).values_list("exam_code", flat=True)))


class _Run:
    """One check or commit run of one import (see score_import_execute)."""

    def __init__(self, imp: ScoreImport, run: str, actor: Actor, progress: Progress) -> None:
        self.imp = imp
        self.run = run
        self.actor = actor
        self.progress = progress
        self.path = media_path(imp.stored_name)
        self.staging: Staging | None = None

    def go(self) -> ScoreImport:
        if not self.path.exists():
            raise FileRejected(
                "IMPORT_FILE_MISSING", _("存储的导入文件已不存在，请重新上传。"), {"import": self.imp.pk}
            )
        try:
            rows = self.load()
            if rows == 0:
                raise FileRejected("IMPORT_FILE_NO_ROWS", _("文件只有表头，没有成绩行。"), {})
            if self.run == ScoreImport.Run.COMMIT:
                return self.commit(rows)
            return self.check(rows)
        finally:
            if self.staging is not None:
                with contextlib.suppress(Exception):
                    self.staging.drop()

    # --- loading ---------------------------------------------------------------------------------

    def load(self) -> int:
        progress = self.progress
        if self.imp.file_format == "xlsx":
            layout, records = import_files.xlsx_open(self.path)
            self.staging = Staging(layout)
            self.staging.create()
            progress.update(phase=ScoreImport.Phase.LOADING, done=0, total=0, force=True)
            self.staging.load_records(records, lambda n, line: progress.update(done=n, total=max(n, 0)))
            return self.staging.analyze()
        start = import_files.csv_start(self.path)
        self.staging = Staging(start.layout)
        self.staging.create()
        size = max(1, self.imp.size - start.data_offset)
        state = {"bytes": 0, "lines": 0}

        def on_block(block: bytes) -> None:
            state["bytes"] += len(block)
            state["lines"] += block.count(b"\n")
            estimate = int(state["lines"] * size / max(1, state["bytes"]))
            progress.update(done=state["lines"], total=max(estimate, state["lines"]))

        def on_rows(count: int, line: int) -> None:
            progress.update(done=count, total=max(count, self.progress.total))

        progress.update(phase=ScoreImport.Phase.LOADING, done=0, total=0, force=True)
        if connection.vendor == "postgresql":
            import psycopg.errors

            try:
                blocks = import_files.csv_data_blocks(self.path, start.data_offset)
                with transaction.atomic():
                    self.staging.copy_csv(blocks, on_block)
            except psycopg.errors.BadCopyFileFormat:
                # Some record has another column count than the header (or a broken quote): load
                # row by row instead, so each such row is reported with its line.
                self.staging.create()
                self.staging.load_records(import_files.csv_records(self.path, start), on_rows)
            except (psycopg.errors.CharacterNotInRepertoire, psycopg.errors.UntranslatableCharacter) as exc:
                line = copy_error_line(exc)
                raise FileRejected(
                    "IMPORT_FILE_ENCODING",
                    _("第%(line)s行的内容不是UTF-8编码，请将文件另存为“CSV UTF-8（逗号分隔）”后再上传。")
                    % {"line": line or "?"},
                    {"line": line},
                ) from exc
        else:
            self.staging.load_records(import_files.csv_records(self.path, start), on_rows)
        rows = self.staging.analyze()
        progress.update(done=rows, total=rows, force=True)
        return rows

    # --- checking and reporting ----------------------------------------------------------------------

    def classify(self, rows: int, *, released: bool) -> dict:
        assert self.staging is not None
        self.progress.update(phase=ScoreImport.Phase.VALIDATING, done=0, total=rows, force=True)
        self.staging.check(
            sitting_id=self.imp.sitting_id,
            sitting_label=self.imp.sitting.label,
            released=released,
            replace_unpublished=self.imp.replace_unpublished,
            city_codes=_city_codes(),
        )
        counts = self.staging.counts()
        self.progress.update(done=rows, force=True)
        errors = {code: n for (code, _action), n in counts.items() if code is not None}
        ordered = {code: errors[code] for code in ROW_CODES if code in errors}
        summary: dict[str, Any] = {
            "rows": sum(counts.values()),
            "new": counts.get((None, ACTION_NEW), 0),
            "unchanged": counts.get((None, ACTION_UNCHANGED), 0),
            "replace": counts.get((None, ACTION_REPLACE), 0),
            "failed": sum(ordered.values()),
            "errors": ordered,
        }
        summary["valid"] = summary["new"] + summary["unchanged"] + summary["replace"]
        return summary

    def report(self, summary: dict) -> tuple[str, list]:
        """Write the failed-rows file (to a temporary name) and read the sample; (temp name, sample)."""
        assert self.staging is not None
        self.progress.update(phase=ScoreImport.Phase.REPORTING, force=True)
        if not summary["failed"]:
            return "", []
        label = self.imp.sitting.label
        layout = self.staging.layout
        sample = []
        for row in self.staging.failed_rows(sitting_label=label, limit=SAMPLE_ERRORS):
            fields = ["" if v is None else str(v) for v in row[: layout.ncols]]
            line, code, message = row[layout.ncols :]
            sample.append({"line": int(line), "code": code, "message": message, "fields": fields})
        stem = str(Path(self.imp.stored_name).with_suffix(""))
        name = f"{stem}-failed-{self.run}.csv"
        temp = media_path(name + ".part")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(codecs.BOM_UTF8)  # Excel opens UTF-8 CSV correctly only with a BOM
            header = io.StringIO()
            csv.writer(header).writerow([*layout.columns, *FAILED_HEADER_EXTRA])
            out.write(header.getvalue().encode("utf-8"))
            self.staging.write_failed_csv(out, sitting_label=label, header=list(layout.columns))
        return name, sample

    @staticmethod
    def _publish_report(name: str) -> str:
        if name:
            os.replace(media_path(name + ".part"), media_path(name))
        return name

    def _drop_previous_report(self, name: str) -> None:
        """Once the import row points at the new report: the last run's report is the only one kept."""
        previous = self.imp.failed_rows_name
        if previous and previous != name:
            media_path(previous).unlink(missing_ok=True)

    def _outcome(self, summary: dict, failed_name: str, sample: list) -> dict:
        return {
            "rows_total": summary["rows"],
            "rows_done": summary["rows"],
            "rows_valid": summary["valid"],
            "rows_failed": summary["failed"],
            "rows_new": summary["new"],
            "rows_unchanged": summary["unchanged"],
            "rows_replaced": summary["replace"],
            "error_counts": summary["errors"],
            "sample_errors": sample,
            "failed_rows_name": failed_name,
            "phase": "",
            "finished_at": clock.now(),
        }

    def check(self, rows: int) -> ScoreImport:
        released = sitting_release(self.imp.sitting).released
        summary = self.classify(rows, released=released)
        failed_name, sample = self.report(summary)
        self._publish_report(failed_name)
        self.progress.stop()
        outcome = self._outcome(summary, failed_name, sample)
        with transaction.atomic():
            ScoreImport.objects.filter(pk=self.imp.pk).update(
                state=ScoreImport.State.CHECKED, checked_at=clock.now(), **outcome
            )
            imp = ScoreImport.objects.select_related("sitting").get(pk=self.imp.pk)
            audit_record(
                actor=self.actor, event_type="scores.import_checked", subject=imp, after=_snapshot(imp)
            )
        self._drop_previous_report(failed_name)
        return imp

    # --- committing ----------------------------------------------------------------------------------

    def commit(self, rows: int) -> ScoreImport:
        assert self.staging is not None
        actor = self.actor
        user_id = actor.user.pk if actor.kind == "staff" else None
        failed_name = ""
        # Said before the transaction opens, so that it is seen even where (SQLite) progress
        # written inside the transaction stays invisible until it commits.
        self.progress.update(phase=ScoreImport.Phase.VALIDATING, done=0, total=rows, force=True)
        try:
            with transaction.atomic():
                # The sitting's row lock: publication (which locks it too) waits for this commit,
                # so "released" cannot change between the check and the write.
                sitting = Sitting.objects.select_for_update().get(pk=self.imp.sitting_id)
                released = sitting_release(sitting).released
                summary = self.classify(rows, released=released)
                failed_name, sample = self.report(summary)
                to_write = summary["new"] + summary["replace"]
                self.progress.update(phase=ScoreImport.Phase.COMMITTING, done=0, total=to_write, force=True)
                inserted, replaced = self.staging.apply(
                    sitting_id=sitting.pk,
                    created_at=clock.now(),
                    created_by_id=user_id,
                    source=gettext("成绩导入#%(id)s") % {"id": self.imp.pk},
                    replace_reason=gettext("发布前由成绩导入#%(id)s替换") % {"id": self.imp.pk},
                    on_rows=lambda n: self.progress.update(done=n),
                    batch_rows=max(1, int(getattr(settings, "ZIKAO_SCORE_IMPORT_BATCH_ROWS", 500_000))),
                )
                if inserted != to_write or replaced != summary["replace"]:
                    raise DomainError(
                        "IMPORT_CONCURRENT_CHANGE",
                        _("导入期间成绩被其他操作修改，本次未写入任何成绩，请重新导入。"),
                        {"expected": to_write, "written": inserted},
                    )
                # From here on the ScoreImport row is locked by this transaction: no progress
                # writes through the other connection any more.
                self.progress.stop()
                ScoreImport.objects.filter(pk=self.imp.pk).update(
                    state=ScoreImport.State.COMMITTED,
                    committed_at=clock.now(),
                    committed_by_id=user_id,
                    **self._outcome(summary, failed_name, sample),
                )
                imp = ScoreImport.objects.select_related("sitting").get(pk=self.imp.pk)
                audit_record(actor=actor, event_type="scores.imported", subject=imp, after=_snapshot(imp))
                # Every affected candidate's release-hour snapshot is stale after commit.
                releases_changed()
                # Published last: a crash before the commit leaves at most an unreferenced file.
                self._publish_report(failed_name)
        except _INTEGRITY_ERRORS as exc:
            raise DomainError(
                "IMPORT_CONCURRENT_CHANGE",
                _("导入期间成绩被其他操作修改，本次未写入任何成绩，请重新导入。"),
                {},
            ) from exc
        finally:
            if failed_name:
                media_path(failed_name + ".part").unlink(missing_ok=True)
        self._drop_previous_report(failed_name)
        return imp
