"""Reads of the candidate record that front doors need.

`candidate_record` assembles every section the seed lists (identity, majors, scores,
violations, transfers out and in, exemptions, graduation). Scores come only through
`scores.selectors`, so the embargo and withholding hold here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from zikao.candidates.models import Candidate, CandidateMajor
from zikao.conduct.models import Violation
from zikao.conduct.selectors import candidate_suspension
from zikao.core.errors import NotFound
from zikao.core.masking import mask_id_number, mask_phone
from zikao.credits.models import Exemption, TransferIn, TransferOut
from zikao.graduation.models import Graduation
from zikao.scores.selectors import VisibleScore, candidate_visible_scores


@dataclass(frozen=True)
class Identity:
    """Identity as shown to the candidate: the ID number and phone masked."""

    candidate_no: str
    name: str
    former_name: str
    gender: str
    birth_date: object
    id_type: str
    id_number_masked: str
    phone_masked: str
    ethnicity: str
    county_office: str
    registered_on: object
    status: str


@dataclass(frozen=True)
class Record:
    identity: Identity
    majors: list[CandidateMajor]
    scores: list[VisibleScore]
    violations: list[Violation]
    suspension: object
    transfers_out: list[TransferOut]
    transfers_in: list[TransferIn]
    exemptions: list[Exemption]
    graduations: list[Graduation] = field(default_factory=list)


def candidate_get(candidate_no: str) -> Candidate:
    """The open record with this number; NotFound for unknown, merged or malformed numbers."""
    candidate = (
        Candidate.objects.filter(candidate_no=candidate_no)
        .exclude(status=Candidate.Status.MERGED)
        .select_related("county_office")
        .first()
    )
    if candidate is None:
        raise NotFound()
    return candidate


def candidate_record(candidate: Candidate, *, at: datetime | None = None) -> Record:
    """Every section of the record as the candidate may see it (empty sections are empty lists)."""
    return Record(
        identity=Identity(
            candidate_no=candidate.candidate_no,
            name=candidate.name,
            former_name=candidate.former_name,
            gender=candidate.get_gender_display(),
            birth_date=candidate.birth_date,
            id_type=candidate.get_id_type_display(),
            id_number_masked=mask_id_number(candidate.id_number),
            phone_masked=mask_phone(candidate.phone),
            ethnicity=candidate.ethnicity,
            county_office=candidate.county_office.name,
            registered_on=candidate.registered_on,
            status=candidate.get_status_display(),
        ),
        majors=list(
            CandidateMajor.objects.filter(candidate=candidate).select_related(
                "major", "plan", "major__school"
            )
        ),
        scores=candidate_visible_scores(candidate, at=at),
        violations=list(
            Violation.objects.filter(candidate=candidate)
            .select_related("sitting", "course")
            .order_by("-decided_at")
        ),
        suspension=candidate_suspension(candidate),
        transfers_out=list(TransferOut.objects.filter(candidate=candidate).prefetch_related("courses")),
        transfers_in=list(
            TransferIn.objects.filter(candidate=candidate).prefetch_related("courses__mapped_course")
        ),
        exemptions=list(
            Exemption.objects.filter(candidate=candidate, status=Exemption.Status.APPROVED).prefetch_related(
                "courses"
            )
        ),
        graduations=list(Graduation.objects.filter(candidate=candidate).select_related("major")),
    )
