"""Candidate numbers (准考证号) and certificate numbers (毕业证书编号).

准考证号: 12 digits = city (2) + county (2) + year (2) + sitting digit (1) + sequence (5).
证书编号: 17 digits = 6 + level digit (5 本科 / 6 专科) + province (2) + city (2) + county (2)
+ year (2) + half-year (1) + sequence (5) + check character. The real check rule is not
public: we use ISO 7064 MOD 11-2 (python-stdnum) and say so (docs/decisions/0002-identifiers.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.iso7064 import mod_11_2

CANDIDATE_NO_RE = re.compile(r"^\d{12}$")
# Sitting digit in a candidate number: the sitting of first registration (1 = first half, 2 = second).
SITTING_DIGIT_FOR_MONTH = {1: "1", 4: "1", 7: "2", 10: "2"}


@dataclass(frozen=True)
class CandidateNumber:
    city: str
    county: str
    year: str
    sitting_digit: str
    sequence: int

    @property
    def prefix(self) -> str:
        return f"{self.city}{self.county}{self.year}{self.sitting_digit}"

    def __str__(self) -> str:
        return f"{self.prefix}{self.sequence:05d}"


def candidate_no_prefix(city_code: str, county_code: str, year: int, month: int) -> str:
    """The 7-digit prefix for numbers issued in a county for the sitting (year, month)."""
    if not (len(city_code) == 2 and city_code.isdigit() and len(county_code) == 2 and county_code.isdigit()):
        raise ValueError("city and county exam codes are 2 digits each")
    digit = SITTING_DIGIT_FOR_MONTH.get(month, "1" if month <= 6 else "2")
    return f"{city_code}{county_code}{year % 100:02d}{digit}"


def parse_candidate_no(number: str) -> CandidateNumber:
    """Split a 12-digit candidate number; ValueError if it is not one."""
    if not CANDIDATE_NO_RE.match(number or ""):
        raise ValueError("a candidate number is 12 digits")
    if number[6] not in "12":
        raise ValueError("the sitting digit of a candidate number is 1 or 2")
    return CandidateNumber(number[0:2], number[2:4], number[4:6], number[6], int(number[7:]))


def is_valid_candidate_no(number: str) -> bool:
    try:
        parse_candidate_no(number)
    except ValueError:
        return False
    return int(number[7:]) >= 1


LEVEL_DIGIT = {"benke": "5", "zhuanke": "6"}


def make_certificate_no(
    *, level: str, province: str, city: str, county: str, year: int, half: int, sequence: int
) -> str:
    """17-digit certificate number; the last character is the ISO 7064 MOD 11-2 check (0-9 or X)."""
    if half not in (1, 2) or not (1 <= sequence <= 99999):
        raise ValueError("half-year is 1 or 2 and the sequence 1-99999")
    body = f"6{LEVEL_DIGIT[level]}{province:0>2}{city:0>2}{county:0>2}{year % 100:02d}{half}{sequence:05d}"
    if len(body) != 16 or not body.isdigit():
        raise ValueError("certificate number parts have the wrong width")
    return body + mod_11_2.calc_check_digit(body)


def is_valid_certificate_no(number: str) -> bool:
    return (
        len(number or "") == 17
        and number[:16].isdigit()
        and number[0] == "6"
        and number[1] in "56"
        and mod_11_2.is_valid(number)
    )
