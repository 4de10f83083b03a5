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
