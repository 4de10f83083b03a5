"""Celery tasks of the scores app (run by a worker when CELERY_BROKER_URL is set, eagerly otherwise)."""

from __future__ import annotations

from zikao.celery import app

# Bound to the project's Celery app (not `shared_task`): its configuration decides between the
# broker and eager execution, whether or not anything else imported the app first.


@app.task(name="zikao.scores.tasks.release_due_sittings")
def release_due_sittings() -> list[str]:
    """Celery beat, every minute: record the release of due sittings (scores.publication).

    Bookkeeping only: candidates see scores at the release instant whether this runs or not.
    Returns the labels of the sittings stamped now.
    """
    from zikao.core.audit import Actor
    from zikao.scores.publication import release_due_sittings as record_due_releases

    return [s.label for s in record_due_releases(actor=Actor.system("release_due_sittings"))]


@app.task(name="zikao.scores.tasks.run_score_import", acks_late=True)
def run_score_import(import_id: int, run: str, user_id: int | None, ip: str | None = None) -> str:
    """Check or commit a score import in a worker (scores.importers); returns the import's state.

    Safe to deliver twice: a second delivery while the first runs is refused with
    IMPORT_RUNNING (the run lock), and a committed import is never committed again. Refusals
    (IMPORT_RUNNING, PERMISSION_DENIED) are returned as their code.
    """
    from zikao.core.errors import DomainError
    from zikao.scores.importers import score_import_execute_by_id

    try:
        return score_import_execute_by_id(import_id, run, user_id, ip).state
    except DomainError as exc:
        return exc.code
