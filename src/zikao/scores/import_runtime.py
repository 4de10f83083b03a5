"""Running a score import: one run at a time per file, progress others can read, background work.

* **One run per import.** A run holds a lock that dies with its process: a PostgreSQL session
  advisory lock (taken on the connection that does the work, so it is free exactly when that
  session — and its transaction — is gone), or on SQLite an `flock` on a file beside the upload.
  A run found "running" whose lock is free was interrupted (killed, server restarted): running
  the import again finishes the job.
* **Progress.** `phase`, `rows_done` and `rows_total` of the ScoreImport row, written while the
  run works. On PostgreSQL through a second connection in autocommit, so the page and the
  command line see it even while the commit's single transaction is open; on SQLite (one writer
  at a time) through the run's own connection whenever it is outside a transaction, and not at
  all during the commit transaction itself (the page shows an indeterminate bar then).
* **Background.** With a Celery broker (`CELERY_BROKER_URL`) a run is a Celery task; without one
  it runs in a thread of the web process (`ZIKAO_SCORE_IMPORT_RUNNER`: "celery", "thread", or
  "inline" to run inside the request, used by tests), so the page never waits for a big file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections

from zikao.scores.import_files import IMPORT_DIR, media_path

log = logging.getLogger(__name__)

# Namespace of the two-integer advisory lock key (an arbitrary constant: "ZKSI").
LOCK_CLASS = 0x5A4B5349


def runner() -> str:
    configured = getattr(settings, "ZIKAO_SCORE_IMPORT_RUNNER", "")
    if configured:
        return configured
    return "celery" if getattr(settings, "CELERY_BROKER_URL", "") else "thread"


def _lock_file(import_id: int) -> Path:
    folder = media_path(IMPORT_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{import_id}.lock"


class RunLock:
    """The lock of one import's run (see the module docstring)."""

    def __init__(self, import_id: int) -> None:
        self.import_id = import_id
        self._fd: int | None = None
        self.held = False

    def acquire(self, *, wait_seconds: float = 0.0) -> bool:
        deadline = time.monotonic() + wait_seconds
        while True:
            if self._try():
                self.held = True
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def _try(self) -> bool:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s::int, %s::int)", [LOCK_CLASS, self.import_id])
                return bool(cursor.fetchone()[0])
        import os

        fd = os.open(_lock_file(self.import_id), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if connection.vendor == "postgresql":
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s::int, %s::int)", [LOCK_CLASS, self.import_id])
            return
        import os

        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def run_is_live(import_id: int) -> bool:
    """True while some process holds the run lock of this import (a run is in progress)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::oid "
                "AND objid = %s::oid AND objsubid = 2 AND granted",
                [LOCK_CLASS, import_id],
            )
            return cursor.fetchone() is not None
    import os

    path = _lock_file(import_id)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class Progress:
    """Writes a run's progress to its ScoreImport row where others can read it (module docstring).

    `update` is throttled (at most one write per `interval` seconds unless forced) and also
    calls `listener(phase, done, total)`, which the command line uses for its progress line.
    After `stop()` nothing more is written (the run's own final write must not be waited on by
    the progress connection).
    """

    def __init__(
        self,
        import_id: int,
        *,
        listener: Callable[[str, int, int], None] | None = None,
        interval: float = 0.5,
    ) -> None:
        from zikao.scores.models import ScoreImport

        self.import_id = import_id
        self.listener = listener
        self.interval = interval
        self.table = connection.ops.quote_name(ScoreImport._meta.db_table)
        self.phase = ""
        self.done = 0
        self.total = 0
        self._last = 0.0
        self._stopped = False
        self._own = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self._own = connections.create_connection(DEFAULT_DB_ALIAS)

    def update(
        self,
        *,
        phase: str | None = None,
        done: int | None = None,
        total: int | None = None,
        force: bool = False,
    ) -> None:
        if phase is not None and phase != self.phase:
            self.phase = phase
            force = True
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if self.listener is not None:
            self.listener(self.phase, self.done, self.total)
        now = time.monotonic()
        if self._stopped or (not force and now - self._last < self.interval):
            return
        self._last = now
        sql = f"UPDATE {self.table} SET phase = %s, rows_done = %s, rows_total = %s WHERE id = %s"  # noqa: S608
        params: list[Any] = [self.phase, self.done, self.total, self.import_id]
        target = self._own if self._own is not None else connection
        try:
            with target.cursor() as cursor:
                cursor.execute(sql, params)
        except OperationalError:
            # Progress is best effort: a busy database (SQLite's single writer) skips one update
            # rather than failing the run. Only where a failed statement spoils nothing else.
            if target is connection and connection.vendor == "postgresql":
                raise
            log.debug("score import %s: progress update skipped", self.import_id)

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        self._stopped = True
        if self._own is not None:
            with contextlib.suppress(Exception):
                self._own.close()
            self._own = None


def start_in_background(import_id: int, run: str, user_id: int | None, ip: str | None) -> None:
    """Start a run without waiting for it (the caller has already marked the import queued)."""
    mode = runner()
    if mode == "celery":
        from zikao.scores.tasks import run_score_import

        run_score_import.delay(import_id, run, user_id, ip)
        return
    from zikao.scores.importers import score_import_execute_by_id

    if mode == "inline":
        score_import_execute_by_id(import_id, run, user_id, ip)
        return

    def work() -> None:
        try:
            score_import_execute_by_id(import_id, run, user_id, ip)
        except Exception:
            log.exception("score import %s (%s) failed in its thread", import_id, run)
        finally:
            connections.close_all()

    threading.Thread(target=work, name=f"score-import-{import_id}", daemon=True).start()
