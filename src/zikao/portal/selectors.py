"""Reads the candidate's record pages and the /api/me endpoints share.

Thin glue over the domain selectors: visibility is decided only by `scores.selectors` (directly
or through the release-hour cache `scores.cache`), the plan by `graduation.selectors`.
"""

from __future__ import annotations

from dataclasses import dataclass

from zikao.core.errors import NotFound
from zikao.graduation.selectors import graduation_progress
from zikao.portal.presenters import Number, PlanReport, Source, credits_number, present_progress
from zikao.scores.cache import CandidateSitting, candidate_score_snapshot
from zikao.scores.selectors import PassedCourseRow, VisibleScore, candidate_passed_courses


@dataclass(frozen=True)
class SittingScores:
    sitting: CandidateSitting
    scores: list[VisibleScore]  # empty while the sitting is not released


def candidate_sitting_scores(candidate, label: str) -> SittingScores:
    """The candidate's scores of one sitting. NotFound when the sitting does not exist or is not
    one the candidate entered: both look the same. Before release: the sitting, no scores."""
    snapshot = candidate_score_snapshot(candidate)
    sitting = snapshot.sitting(label) if isinstance(label, str) else None
    if sitting is None:
        raise NotFound()
    return SittingScores(sitting, snapshot.scores_of(label) if sitting.released else [])


@dataclass(frozen=True)
class PassedSummary:
    """已通过课程: written (theory) and practice (practice parts, thesis) separately, with totals."""

    written: list[PassedCourseRow]
    practice: list[PassedCourseRow]
    written_credits: Number
    practice_credits: Number
    total_courses: int
    total_credits: Number


def candidate_passed_summary(candidate) -> PassedSummary:
    rows = candidate_passed_courses(candidate)
    written = [r for r in rows if r.course_kind == "theory"]
    practice = [r for r in rows if r.course_kind != "theory"]
    written_credits = credits_number(sum((r.credits for r in written), 0))
    practice_credits = credits_number(sum((r.credits for r in practice), 0))
    return PassedSummary(
        written=written,
        practice=practice,
        written_credits=written_credits,
        practice_credits=practice_credits,
        total_courses=len(rows),
        total_credits=credits_number(sum((r.credits for r in rows), 0)),
    )


def candidate_progress_reports(candidate) -> list[PlanReport]:
    """毕业预测 in plain words: every plan version graduation_progress evaluates."""
    names = {
        r.course_code: Source(r.course_code, r.course_name, r.sitting)
        for r in candidate_passed_courses(candidate)
    }
    return present_progress(graduation_progress(candidate), names)
