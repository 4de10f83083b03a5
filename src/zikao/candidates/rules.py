"""Pure rules of record administration: how document numbers compare, when two records are one person.

No database, no clock, no settings: callers pass plain values and get a decision back.

Two candidate numbers belong to one person (and may be merged) when all three hold:

1. **Same name**, compared after Unicode NFKC normalisation (full-width letters and digits become
   ASCII), with white space removed and Latin letters upper-cased (foreign names are typed both
   ways). A former name does not count: correct the name first through a profile change.
2. **Same birth date.**
3. **Matching documents**: some document number of one record equals some document number of the
   other after normalisation, whatever the recorded document type. A record's document numbers
   are its own number plus the new number of an open ID-number correction request (the candidate
   said "my number is really …"; the office checks it against the physical document before
   merging). Normalisation: NFKC, white space, hyphens and brackets dropped, upper case (so a
   trailing x becomes X), and a 15-digit first-generation 身份证 number rewritten to its 18-digit
   form (region + "19" + yymmdd + sequence + GB 11643 check character). This covers a record typed
   under the wrong document type, a lower-case check character from a legacy import, and a record
   registered with the old 15-digit card.

Anything else (a different person with the same name and birth date, a mistyped number with no
correction request) is refused: correct the data first, then merge.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from stdnum.cn import ric

NAME_DIFFERS = "NAME_DIFFERS"
BIRTH_DATE_DIFFERS = "BIRTH_DATE_DIFFERS"
ID_DIFFERS = "ID_DIFFERS"

_DROP = re.compile(r"[\s\-()（）]")


def upgrade_resident_id(number: str) -> str | None:
    """The 18-digit form of a 15-digit first-generation 身份证 number (None if it is not one).

    The old card has no century and no check character: 6-digit region, yymmdd, 3-digit
    sequence. Every old card belongs to someone born in the 1900s.
    """
    if not re.fullmatch(r"\d{15}", number):
        return None
    body = f"{number[:6]}19{number[6:]}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects the check position present


def downgrade_resident_id(number: str) -> str | None:
    """The 15-digit form an 18-digit 身份证 number of someone born in the 1900s had (else None)."""
    if not re.fullmatch(r"\d{17}[\dX]", number) or number[6:8] != "19":
        return None
    return number[:6] + number[8:17]


def normalize_document_number(number: str | None) -> str:
    """Canonical form of a document number for comparison (see the module docstring)."""
    cleaned = _DROP.sub("", unicodedata.normalize("NFKC", number or "")).upper()
    return upgrade_resident_id(cleaned) or cleaned


def document_number_variants(number: str | None) -> list[str]:
    """Stored spellings that mean the same document: as typed (upper case), 18- and 15-digit forms.

    Used to search records by document number, so a record kept under the old 15-digit number
    is found by the new one and the other way round.
    """
    cleaned = _DROP.sub("", unicodedata.normalize("NFKC", number or "")).upper()
    if not cleaned:
        return []
    variants = [cleaned]
    for other in (upgrade_resident_id(cleaned), downgrade_resident_id(cleaned)):
        if other and other not in variants:
            variants.append(other)
    if cleaned.endswith("X"):
        variants.append(cleaned[:-1] + "x")  # legacy imports kept a lower-case check character
    return variants


def normalize_name(name: str | None) -> str:
    """Canonical form of a name for comparison: NFKC, no white space, Latin upper-cased."""
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", name or "")).upper()


@dataclass(frozen=True)
class PersonFacts:
    """What the same-person check looks at, for one record."""

    name: str
    birth_date: date | None
    document_numbers: tuple[str, ...]


def same_person_problems(a: PersonFacts, b: PersonFacts) -> list[str]:
    """Why two records are not one person (empty list: they are), in a fixed order."""
    problems: list[str] = []
    if not normalize_name(a.name) or normalize_name(a.name) != normalize_name(b.name):
        problems.append(NAME_DIFFERS)
    if a.birth_date is None or a.birth_date != b.birth_date:
        problems.append(BIRTH_DATE_DIFFERS)
    if not documents_match(a.document_numbers, b.document_numbers):
        problems.append(ID_DIFFERS)
    return problems


def documents_match(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when some document number of `a` equals one of `b` after normalisation."""
    left = {normalize_document_number(n) for n in a if n}
    right = {normalize_document_number(n) for n in b if n}
    left.discard("")
    right.discard("")
    return bool(left & right)
