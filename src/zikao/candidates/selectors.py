"""Reads of the candidate record that front doors need.

`candidate_record` assembles every section the seed lists (identity, majors, scores,
violations, transfers out and in, exemptions, graduation). Scores come only through
`scores.selectors`, so the embargo and withholding hold here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from zikao.candidates.models import Candidate, CandidateMajor, ProfileChangeRequest
from zikao.conduct.models import Violation
from zikao.conduct.selectors import candidate_suspension
from zikao.core.errors import NotFound, ValidationFailed
from zikao.core.masking import mask_id_number, mask_name, mask_phone
from zikao.credits.models import Exemption, TransferIn, TransferOut
from zikao.graduation.models import Graduation
from zikao.scores.models import Method, Score
from zikao.scores.selectors import VisibleScore, candidate_visible_scores, score_history


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


# --- office: search, the whole record, profile-change requests, merge preview -------------------
#
# Every office read takes the staff user and filters by `accounts.permissions.candidates_in_scope`
# (or `office_scope_q` on the candidate's county office): an out-of-scope record is NotFound,
# exactly like a missing one. Merged records stay readable in the office (their history matters)
# but never to candidates (`candidate_get` above hides them).

SEARCH_PAGE_SIZE = 20


class SearchKind:
    AUTO = "auto"
    CANDIDATE_NO = "candidate_no"
    ID_NUMBER = "id_number"
    NAME = "name"

    CHOICES = (AUTO, CANDIDATE_NO, ID_NUMBER, NAME)


@dataclass(frozen=True)
class RecordSearch:
    """A parsed office search: what was searched for (masked for the audit trail) and the rows."""

    kind: str
    query_masked: str
    results: QuerySet


_ID_QUERY = re.compile(r"^[0-9A-Z]{5,20}$")


def _search_kind(query: str) -> str:
    if re.fullmatch(r"\d{12}", query):
        return SearchKind.CANDIDATE_NO
    if _ID_QUERY.match(query.upper()) and any(ch.isdigit() for ch in query):
        return SearchKind.ID_NUMBER
    return SearchKind.NAME


def record_search(user, query: str, by: str = SearchKind.AUTO) -> RecordSearch:
    """Records in the user's scope matching a candidate number (exact), a document number (exact
    after normalisation: spaces and hyphens dropped, upper case, old 15-digit 身份证 and its
    18-digit form alike) or a name (exact, or prefix from two characters on: a bare surname
    would list half a county). Merged records are included (marked by their status).

    Refuses RECORD_SEARCH_EMPTY, RECORD_SEARCH_KIND_INVALID, RECORD_SEARCH_CANDIDATE_NO_INVALID,
    RECORD_SEARCH_ID_INVALID and RECORD_SEARCH_NAME_INVALID (422). Exact name matches come first.
    """
    from zikao.accounts.permissions import candidates_in_scope
    from zikao.candidates import rules

    text = " ".join((query or "").split())
    if by not in SearchKind.CHOICES:
        raise ValidationFailed(
            "RECORD_SEARCH_KIND_INVALID", _("查询方式无效。"), {"by": ["RECORD_SEARCH_KIND_INVALID"]}
        )
    if not text:
        raise ValidationFailed(
            "RECORD_SEARCH_EMPTY", _("请输入准考证号、证件号码或姓名。"), {"q": ["RECORD_SEARCH_EMPTY"]}
        )
    kind = _search_kind(text.replace(" ", "")) if by == SearchKind.AUTO else by
    base = candidates_in_scope(user).select_related("county_office")
    if kind == SearchKind.CANDIDATE_NO:
        number = text.replace(" ", "")
        if not re.fullmatch(r"\d{12}", number):
            raise ValidationFailed(
                "RECORD_SEARCH_CANDIDATE_NO_INVALID",
                _("准考证号应为12位数字。"),
                {"q": ["RECORD_SEARCH_CANDIDATE_NO_INVALID"]},
            )
        return RecordSearch(kind, number, base.filter(candidate_no=number).order_by("candidate_no"))
    if kind == SearchKind.ID_NUMBER:
        variants = rules.document_number_variants(text)
        if not variants or not _ID_QUERY.match(variants[0]):
            raise ValidationFailed(
                "RECORD_SEARCH_ID_INVALID",
                _("证件号码应为5至20位字母或数字。"),
                {"q": ["RECORD_SEARCH_ID_INVALID"]},
            )
        return RecordSearch(
            kind,
            mask_id_number(variants[0]),
            base.filter(id_number__in=variants).order_by("candidate_no"),
        )
    name = text.replace(" ", "") if re.search(r"[\u4e00-\u9fff]", text) else text
    if len(name) > 50:
        raise ValidationFailed(
            "RECORD_SEARCH_NAME_INVALID", _("姓名不能超过50个字。"), {"q": ["RECORD_SEARCH_NAME_INVALID"]}
        )
    # One character is a bare surname: exact only, or it would list half a county.
    matches = base.filter(name=name) if len(name) < 2 else base.filter(name__startswith=name)
    ordered = matches.annotate(
        exact=Case(When(name=name, then=Value(0)), default=Value(1), output_field=IntegerField())
    ).order_by("exact", "name", "candidate_no")
    return RecordSearch(kind, mask_name(name), ordered)


def office_candidate_get(user, candidate_no: str) -> Candidate:
    """The record with this number, any status, if it lies in the user's scope; else NotFound."""
    from zikao.accounts.permissions import candidates_in_scope

    if not re.fullmatch(r"\d{12}", candidate_no or ""):
        raise NotFound()
    candidate = (
        candidates_in_scope(user)
        .filter(candidate_no=candidate_no)
        .select_related("county_office", "county_office__parent", "merged_into")
        .first()
    )
    if candidate is None:
        raise NotFound()
    return candidate


def surviving_record(candidate: Candidate) -> Candidate:
    """Follow `merged_into` to the open record a merged number now lives on (itself if open)."""
    seen = {candidate.pk}
    current = candidate
    while current.status == Candidate.Status.MERGED and current.merged_into_id is not None:
        current = Candidate.objects.select_related("county_office").get(pk=current.merged_into_id)
        if current.pk in seen:  # defensive: a cycle cannot be made by the services
            break
        seen.add(current.pk)
    return current


@dataclass(frozen=True)
class OfficeIdentity:
    """Identity as the office sees it by default: ID number and phone masked."""

    candidate_no: str
    pre_registration_no: str
    name: str
    former_name: str
    gender: str
    birth_date: object
    id_type: str
    id_number_masked: str
    phone_masked: str
    ethnicity: str
    household_region: str
    work_unit: str
    prior_education: str
    prior_diploma_verified: bool
    character_assessment_on_file: bool
    county_office: str
    registered_on: object
    status: str
    status_label: str
    merged_into_no: str


@dataclass(frozen=True)
class OfficeScore:
    """A released score (as the candidate sees it) and every version of it, oldest first."""

    score: VisibleScore
    history: list[Score]

    @property
    def method_label(self) -> str:
        return str(dict(Method.choices).get(self.score.method, self.score.method))

    @property
    def status_label(self) -> str:
        return str(dict(Score.Status.choices).get(self.score.status, self.score.status))


@dataclass(frozen=True)
class AccountState:
    exists: bool
    first_password_in_force: bool
    must_change_password: bool
    locked: bool
    locked_until: datetime | None
    failed_count: int
    last_login_at: datetime | None
    password_changed_at: datetime | None
    live_tokens: int


@dataclass(frozen=True)
class MergedNumber:
    candidate_no: str
    name: str
    merged_at: datetime | None
    merged_by: str


@dataclass(frozen=True)
class OfficeRecord:
    identity: OfficeIdentity
    majors: list[CandidateMajor]
    scores: list[OfficeScore]
    violations: list[Violation]
    suspension: object
    exemptions: list[Exemption]
    transfers_out: list[TransferOut]
    transfers_in: list[TransferIn]
    graduations: list[Graduation]
    requests: list[ProfileChangeRequest]
    account: AccountState
    merged_from: list[MergedNumber]


def _scores_with_history(candidate: Candidate) -> list[OfficeScore]:
    """Released scores through the one visibility path, each with its version history.

    `candidate_visible_scores` decides what is shown; the current rows are read only to attach
    `scores.selectors.score_history` to each visible result (matched on course, sitting, method
    and result), so nothing unreleased or withheld can appear here.
    """
    visible = candidate_visible_scores(candidate)
    rows: dict[tuple, list[Score]] = {}
    for row in (
        Score.objects.filter(candidate=candidate, is_current=True)
        .select_related("course", "sitting", "created_by")
        .order_by("pk")
    ):
        key = (row.course.code, row.sitting.label if row.sitting else None, row.method, row.value, row.grade)
        rows.setdefault(key, []).append(row)
    result = []
    for score in visible:
        same = rows.get((score.course_code, score.sitting, score.method, score.value, score.grade))
        match: Score | None = same.pop(0) if same else None
        if match is None:
            history: list[Score] = []
        elif match.supersedes_id is None:
            history = [match]
        else:
            chain = [v.pk for v in score_history(match)]  # oldest first, as the versions link
            loaded = Score.objects.select_related("created_by").in_bulk(chain)
            history = [loaded[pk] for pk in chain]
        result.append(OfficeScore(score, history))
    return result


def _account_state(candidate: Candidate) -> AccountState:
    from zikao.accounts.models import ApiToken, CandidateAccount
    from zikao.core import clock

    account = CandidateAccount.objects.filter(candidate=candidate).first()
    now = clock.now()
    live_tokens = ApiToken.objects.filter(
        candidate=candidate, revoked_at__isnull=True, expires_at__gt=now
    ).count()
    if account is None:
        return AccountState(False, True, True, False, None, 0, None, None, live_tokens)
    return AccountState(
        exists=True,
        first_password_in_force=not account.password_hash,
        must_change_password=account.must_change_password,
        locked=account.locked_until is not None and account.locked_until > now,
        locked_until=account.locked_until,
        failed_count=account.failed_count,
        last_login_at=account.last_login_at,
        password_changed_at=account.password_changed_at,
        live_tokens=live_tokens,
    )


def _merged_from(candidate: Candidate) -> list[MergedNumber]:
    from zikao.core.models import AuditEvent

    closed = list(Candidate.objects.filter(merged_into=candidate).order_by("candidate_no"))
    events = {
        e.candidate_id: e
        for e in AuditEvent.objects.filter(
            event_type="candidate.merged", candidate__in=[c.pk for c in closed]
        ).order_by("at")
    }
    return [
        MergedNumber(
            c.candidate_no,
            c.name,
            events[c.pk].at if c.pk in events else None,
            events[c.pk].actor_label if c.pk in events else "",
        )
        for c in closed
    ]


def office_record(candidate: Candidate) -> OfficeRecord:
    """Every section of the record as the office sees it (call `office_candidate_get` first).

    Scores: released ones only, through `scores.selectors`, with their version history
    (previewing unreleased scores is a provincial score-manager tool, not this page). Violations
    include revoked ones, exemptions every status, requests every status.
    """
    return OfficeRecord(
        identity=OfficeIdentity(
            candidate_no=candidate.candidate_no,
            pre_registration_no=candidate.pre_registration_no or "",
            name=candidate.name,
            former_name=candidate.former_name,
            gender=candidate.get_gender_display(),
            birth_date=candidate.birth_date,
            id_type=candidate.get_id_type_display(),
            id_number_masked=mask_id_number(candidate.id_number),
            phone_masked=mask_phone(candidate.phone),
            ethnicity=candidate.ethnicity,
            household_region=candidate.household_region,
            work_unit=candidate.work_unit,
            prior_education=candidate.get_prior_education_display(),
            prior_diploma_verified=candidate.prior_diploma_verified,
            character_assessment_on_file=candidate.character_assessment_on_file,
            county_office=candidate.county_office.name,
            registered_on=candidate.registered_on,
            status=candidate.status,
            status_label=candidate.get_status_display(),
            merged_into_no=surviving_record(candidate).candidate_no if candidate.merged_into_id else "",
        ),
        majors=list(
            CandidateMajor.objects.filter(candidate=candidate).select_related(
                "major", "plan", "major__school"
            )
        ),
        scores=_scores_with_history(candidate),
        violations=list(
            Violation.objects.filter(candidate=candidate)
            .select_related("sitting", "course")
            .order_by("-decided_at")
        ),
        suspension=candidate_suspension(candidate),
        exemptions=list(
            Exemption.objects.filter(candidate=candidate).order_by("requested_at").prefetch_related("courses")
        ),
        transfers_out=list(TransferOut.objects.filter(candidate=candidate).prefetch_related("courses")),
        transfers_in=list(
            TransferIn.objects.filter(candidate=candidate).prefetch_related("courses__mapped_course")
        ),
        graduations=list(Graduation.objects.filter(candidate=candidate).select_related("major")),
        requests=list(ProfileChangeRequest.objects.filter(candidate=candidate).select_related("decided_by")),
        account=_account_state(candidate),
        merged_from=_merged_from(candidate),
    )


def profile_change_requests_in_scope(user, status: str | None = None) -> QuerySet:
    """Profile-change requests of candidates in the user's scope (oldest open first)."""
    from zikao.accounts.permissions import office_scope_q

    qs = ProfileChangeRequest.objects.filter(office_scope_q(user, "candidate__county_office")).select_related(
        "candidate", "candidate__county_office", "decided_by"
    )
    if status:
        qs = qs.filter(status=status)
    if status == ProfileChangeRequest.Status.REQUESTED:
        return qs.order_by("requested_at", "pk")
    return qs.order_by("-requested_at", "-pk")


def profile_change_request_get(user, pk: object) -> ProfileChangeRequest:
    """One request if its candidate is in the user's scope; NotFound otherwise (or a bad id)."""
    try:
        number = int(str(pk))
    except (TypeError, ValueError):
        raise NotFound() from None
    found = profile_change_requests_in_scope(user).filter(pk=number).first()
    if found is None:
        raise NotFound()
    return found


# --- merging two numbers of one person -----------------------------------------------------------

# Rows that stay with the closed number whatever happens: the sign-in state (it is ended
# instead), the append-only audit trail, earlier merges pointing at it, and the registration
# that issued the number (how each number came to be is history of that number).
MERGE_NOT_MOVED = frozenset(
    {
        "accounts.candidateaccount",
        "accounts.apitoken",
        "accounts.verificationcode",
        "core.auditevent",
        "candidates.candidate",
        "candidates.registration",
    }
)

MERGE_LABELS = {
    "scores.score": _("成绩"),
    "scores.scorewithholding": _("暂缓发布"),
    "entries.entry": _("报考"),
    "credits.exemption": _("免考"),
    "credits.transferout": _("转出"),
    "credits.transferin": _("转入"),
    "conduct.violation": _("考试违规"),
    "candidates.candidatemajor": _("报考专业"),
    "candidates.profilechangerequest": _("信息更正申请"),
    "graduation.graduation": _("毕业"),
}

_FIELD_LABELS = {
    "course": _("课程"),
    "sitting": _("考次"),
    "major": _("专业"),
    "slot": _("考试时段"),
    "field": _("更正项目"),
}


@dataclass(frozen=True)
class MergeMove:
    """Rows of one table that move from the closed number to the surviving one."""

    model: str  # app_label.modelname
    field: str  # the FK to Candidate
    label: str
    ids: tuple[int, ...]


@dataclass(frozen=True)
class MergeKept:
    """Rows that stay with the closed number, and why."""

    model: str
    label: str
    ids: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class MergeConflict:
    """A row of the closed number that cannot move: the survivor holds its unique twin."""

    model: str
    label: str
    detail: str
    closed_id: int
    survivor_id: int


@dataclass(frozen=True)
class MergeBlocker:
    code: str
    message: str


@dataclass(frozen=True)
class MergePlan:
    survivor: Candidate
    closed: Candidate
    blockers: list[MergeBlocker]
    person_problems: list[str]
    moves: list[MergeMove]
    kept: list[MergeKept]
    conflicts: list[MergeConflict]
    bridge_request_id: int | None
    fingerprint: str

    @property
    def can_apply(self) -> bool:
        return not (self.blockers or self.person_problems or self.conflicts)

    @property
    def moved_count(self) -> int:
        return sum(len(m.ids) for m in self.moves)


def _relation_label(model) -> str:
    return str(MERGE_LABELS.get(model._meta.label_lower, model._meta.verbose_name))


def candidate_relations() -> list[tuple[Any, Any]]:
    """Every (model, FK field) pointing at Candidate whose rows a merge moves.

    Discovered from the model registry, so a table another app adds later moves too (and its
    unique constraints are checked for conflicts) without anyone remembering this function.
    """
    found: list[tuple[Any, Any]] = []
    for rel in Candidate._meta.get_fields(include_hidden=True):
        if not rel.auto_created or rel.concrete or not (rel.one_to_many or rel.one_to_one):
            continue
        model: Any = rel.related_model
        if model._meta.label_lower in MERGE_NOT_MOVED or model._meta.auto_created:
            continue
        found.append((model, rel.field))  # type: ignore[union-attr]
    return sorted(found, key=lambda pair: (pair[0]._meta.label_lower, pair[1].name))


def _unique_sets(model, field) -> list[tuple[tuple[str, ...], object]]:
    """The unique rules of `model` that include the candidate FK: (other fields, condition)."""
    from django.db.models import UniqueConstraint

    sets: list[tuple[tuple[str, ...], object]] = []
    if field.unique:
        sets.append(((), None))
    for constraint in model._meta.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.fields and field.name in constraint.fields:
            sets.append((tuple(f for f in constraint.fields if f != field.name), constraint.condition))
    for together in model._meta.unique_together:
        if field.name in together:
            sets.append((tuple(f for f in together if f != field.name), None))
    return sets


def _describe(model, row, others: tuple[str, ...]) -> str:
    parts = []
    for name in others:
        value = getattr(row, name, None)
        label = _FIELD_LABELS.get(name, model._meta.get_field(name).verbose_name)
        parts.append(f"{label} {value}")
    return "，".join(parts) if parts else str(_("每个考籍只能有一条"))


def _conflicts(model, field, moving_ids: list[int], survivor: Candidate) -> list[MergeConflict]:
    manager = model._base_manager
    found: list[MergeConflict] = []
    seen: set[int] = set()
    for others, condition in _unique_sets(model, field):
        moving = manager.filter(pk__in=moving_ids)
        theirs = manager.filter(**{field.name: survivor})
        if condition is not None:
            moving, theirs = moving.filter(condition), theirs.filter(condition)
        twins: dict[tuple, int] = {}
        for values in theirs.values_list("pk", *others):
            twins.setdefault(tuple(values[1:]), values[0])
        if not twins:
            continue
        for row in moving.order_by("pk"):
            key = tuple(getattr(row, model._meta.get_field(n).attname) for n in others)
            if any(v is None for v in key) or key not in twins or row.pk in seen:
                continue  # NULLs never collide in a unique index
            seen.add(row.pk)
            found.append(
                MergeConflict(
                    model._meta.label_lower,
                    _relation_label(model),
                    _describe(model, row, others),
                    row.pk,
                    twins[key],
                )
            )
    return found


def _documents(candidate: Candidate) -> tuple[str, ...]:
    numbers = [candidate.id_number]
    numbers += list(
        ProfileChangeRequest.objects.filter(
            candidate=candidate,
            field=ProfileChangeRequest.Field.ID_NUMBER,
            status=ProfileChangeRequest.Status.REQUESTED,
        ).values_list("new_value", flat=True)
    )
    return tuple(numbers)


def merge_plan(survivor: Candidate, closed: Candidate) -> MergePlan:
    """What merging `closed` into `survivor` would do, and everything that stops it.

    Blockers: MERGE_SAME_RECORD, MERGE_RECORD_CLOSED (either record merged or transferred out),
    MERGE_OPEN_REQUESTS (undecided profile-change requests on the closed number, except an ID
    correction naming the survivor's document: the merge settles that one). Person problems: see
    `candidates.rules` (NAME_DIFFERS, BIRTH_DATE_DIFFERS, ID_DIFFERS). Conflicts: rows the
    survivor already holds a unique twin of (the same course and sitting's current score, the
    same entry, graduation in the same major, …). Majors the survivor already has stay with the
    closed number as history instead of conflicting. The fingerprint changes whenever the set of
    rows to move changes, so a preview cannot be applied to different data.
    """
    import hashlib
    import json

    from zikao.candidates import rules

    blockers: list[MergeBlocker] = []
    if survivor.pk == closed.pk:
        blockers.append(MergeBlocker("MERGE_SAME_RECORD", str(_("保留和撤销的是同一个准考证号。"))))
    open_statuses = {Candidate.Status.ACTIVE, Candidate.Status.GRADUATED}
    for role, record in ((_("保留的"), survivor), (_("撤销的"), closed)):
        if record.status not in open_statuses:
            blockers.append(
                MergeBlocker(
                    "MERGE_RECORD_CLOSED",
                    str(
                        _("%(role)s准考证号 %(no)s 已是%(status)s状态，不能合并。")
                        % {"role": role, "no": record.candidate_no, "status": record.get_status_display()}
                    ),
                )
            )
    person_problems = rules.same_person_problems(
        rules.PersonFacts(survivor.name, survivor.birth_date, _documents(survivor)),
        rules.PersonFacts(closed.name, closed.birth_date, _documents(closed)),
    )
    survivor_docs = {rules.normalize_document_number(survivor.id_number)}
    bridge_request_id = None
    open_requests = ProfileChangeRequest.objects.filter(
        candidate=closed, status=ProfileChangeRequest.Status.REQUESTED
    ).order_by("pk")
    blocking_requests = []
    for request in open_requests:
        if (
            request.field == ProfileChangeRequest.Field.ID_NUMBER
            and rules.normalize_document_number(request.new_value) in survivor_docs
        ):
            bridge_request_id = request.pk
        else:
            blocking_requests.append(request)
    if blocking_requests:
        blockers.append(
            MergeBlocker(
                "MERGE_OPEN_REQUESTS",
                str(
                    _("撤销的准考证号还有 %(count)d 条待审核的信息更正申请（%(fields)s），请先处理。")
                    % {
                        "count": len(blocking_requests),
                        "fields": "、".join(str(r.get_field_display()) for r in blocking_requests),
                    }
                ),
            )
        )

    moves: list[MergeMove] = []
    kept: list[MergeKept] = []
    conflicts: list[MergeConflict] = []
    if survivor.pk != closed.pk:
        for model, fk in candidate_relations():
            ids = list(
                model._base_manager.filter(**{fk.name: closed}).order_by("pk").values_list("pk", flat=True)
            )
            if not ids:
                continue
            label = model._meta.label_lower
            if label == "candidates.candidatemajor":
                held = set(
                    CandidateMajor.objects.filter(candidate=survivor).values_list("major_id", flat=True)
                )
                same = list(
                    CandidateMajor.objects.filter(pk__in=ids, major_id__in=held)
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
                if same:
                    kept.append(
                        MergeKept(label, _relation_label(model), tuple(same), str(_("保留考籍已有该专业")))
                    )
                    ids = [i for i in ids if i not in same]
            if not ids:
                continue
            conflicts += _conflicts(model, fk, ids, survivor)
            moves.append(MergeMove(label, fk.name, _relation_label(model), tuple(ids)))
    digest = hashlib.sha256(
        json.dumps(
            {
                "survivor": survivor.pk,
                "closed": closed.pk,
                "moves": [[m.model, m.field, list(m.ids)] for m in moves],
                "kept": [[k.model, list(k.ids)] for k in kept],
                "bridge": bridge_request_id,
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    return MergePlan(
        survivor=survivor,
        closed=closed,
        blockers=blockers,
        person_problems=person_problems,
        moves=moves,
        kept=kept,
        conflicts=conflicts,
        bridge_request_id=bridge_request_id,
        fingerprint=digest,
    )


def merge_preview(user, *, survivor_no: str, closed_no: str) -> MergePlan:
    """The merge plan for two numbers, both in the user's scope (NotFound otherwise).

    Refuses PERMISSION_DENIED without `records.merge` (city level or above).
    """
    from zikao.accounts.permissions import Perm, require_perm

    require_perm(user, Perm.RECORDS_MERGE)
    survivor = office_candidate_get(user, survivor_no)
    closed = office_candidate_get(user, closed_no)
    return merge_plan(survivor, closed)
