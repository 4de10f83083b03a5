"""Pure rules about results: what a valid result is, what passes, which of two passes is better."""

from __future__ import annotations

from zikao.core.errors import ValidationFailed

GRADE_RANK = {"优秀": 4, "良好": 3, "中等": 2, "合格": 1, "不合格": 0}
PASSING_GRADES = frozenset(g for g, rank in GRADE_RANK.items() if rank >= 1)
GRADED_KINDS = frozenset({"practice", "thesis"})


def validate_result(*, course_kind: str, value: int | None, grade: str, status: str) -> None:
    """Refuse a result that cannot exist.

    SCORE_OUT_OF_RANGE: a value outside 0–100. SCORE_GRADE_INVALID: an unknown grade, or a
    grade for a theory course. SCORE_VALUE_AND_GRADE: both given. SCORE_MISSING: a valid result
    with neither. SCORE_ABSENT_HAS_VALUE: an absent result with a value or grade.
    """
    from django.utils.translation import gettext_lazy as _

    if value is not None and grade:
        raise ValidationFailed(
            "SCORE_VALUE_AND_GRADE", _("成绩只能是分数或等级之一。"), {"value": value, "grade": grade}
        )
    if value is not None and not (0 <= value <= 100):
        raise ValidationFailed("SCORE_OUT_OF_RANGE", _("分数应在0到100之间。"), {"value": value})
    if grade and grade not in GRADE_RANK:
        raise ValidationFailed("SCORE_GRADE_INVALID", _("等级无效。"), {"grade": grade})
    if grade and course_kind not in GRADED_KINDS:
        raise ValidationFailed("SCORE_GRADE_INVALID", _("笔试课程只能记分数，不能记等级。"), {"grade": grade})
    if status == "absent" and (value is not None or grade):
        raise ValidationFailed("SCORE_ABSENT_HAS_VALUE", _("缺考不能有成绩。"), {"status": status})
    if status == "valid" and value is None and not grade:
        raise ValidationFailed("SCORE_MISSING", _("有效成绩须有分数或等级。"), {"value": None})


def is_pass(*, value: int | None, grade: str, status: str, pass_mark: int = 60) -> bool:
    """A valid result of at least the pass mark, or a passing grade (合格 and above)."""
    if status != "valid":
        return False
    if value is not None:
        return value >= pass_mark
    return grade in PASSING_GRADES


def result_rank(*, value: int | None, grade: str) -> int:
    """Comparable strength of a result: values 0–100, grades mapped to their band's floor."""
    if value is not None:
        return value
    return {4: 90, 3: 80, 2: 70, 1: 60, 0: 0}[GRADE_RANK.get(grade, 0)]


# --- publication ------------------------------------------------------------------------------

RELEASE_UNSCHEDULED = "unscheduled"  # no release time and not published
RELEASE_SCHEDULED = "scheduled"  # a release time in the future
RELEASE_RELEASED = "released"  # visible since the scheduled release time
RELEASE_PUBLISHED_EARLY = "published_early"  # visible since the office published it early


def release_state(*, release_at, published_at, now) -> str:
    """Where a sitting's publication stands at `now` (aware datetimes; either may be None).

    Visibility starts at the earlier of `release_at` and `published_at` and includes that very
    instant (`<=`): exactly the rule of `scores.selectors`. A `published_at` stamped after the
    release time (by `release_due_sittings`, for the record) is not "early".
    """
    times = [t for t in (release_at, published_at) if t is not None]
    if not times:
        return RELEASE_UNSCHEDULED
    effective = min(times)
    if effective > now:
        return RELEASE_SCHEDULED
    if published_at is not None and (release_at is None or published_at < release_at):
        return RELEASE_PUBLISHED_EARLY
    return RELEASE_RELEASED


def seconds_until(instant, *, now) -> int | None:
    """Whole seconds from `now` to `instant` rounded up (0 once reached; None without an instant)."""
    if instant is None:
        return None
    delta = (instant - now).total_seconds()
    if delta <= 0:
        return 0
    whole = int(delta)
    return whole if whole == delta else whole + 1


# --- correction evidence ----------------------------------------------------------------------

EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
# Extension → the leading bytes a real file of that kind starts with (scans, photos, PDFs).
EVIDENCE_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
}


def validate_evidence_file(*, name: str, size: int, head: bytes) -> str:
    """Refuse an evidence file that is empty, too large, or not a PDF/PNG/JPEG; return its extension.

    CORRECTION_EVIDENCE_EMPTY, CORRECTION_EVIDENCE_TOO_LARGE (over EVIDENCE_MAX_BYTES),
    CORRECTION_EVIDENCE_TYPE (another extension, or content that does not match it).
    """
    from django.utils.translation import gettext_lazy as _

    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if size <= 0:
        raise ValidationFailed("CORRECTION_EVIDENCE_EMPTY", _("证明材料文件为空。"), {"evidence_file": name})
    if size > EVIDENCE_MAX_BYTES:
        raise ValidationFailed(
            "CORRECTION_EVIDENCE_TOO_LARGE",
            _("证明材料文件不能超过10MB。"),
            {"evidence_file": name, "size": size},
        )
    signatures = EVIDENCE_SIGNATURES.get(extension)
    if signatures is None or not any(head.startswith(sig) for sig in signatures):
        raise ValidationFailed(
            "CORRECTION_EVIDENCE_TYPE",
            _("证明材料须为PDF、PNG或JPEG文件。"),
            {"evidence_file": name},
        )
    return "jpg" if extension == "jpeg" else extension
