"""Identity documents and the numbers derived from them.

身份证 (GB 11643) is validated by python-stdnum (`stdnum.cn.ric`): never hand-write the
checksum. Birth date and gender come from the number and are cross-checked against what the
candidate typed. Other documents (HK/Macau/Taiwan residents, foreigners) are typed documents:
their format is checked, the 18-digit residence permits also by the same GB 11643 check
character, which they share with 身份证.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.db import models
from django.utils.translation import gettext_lazy as _
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent
from stdnum.exceptions import ValidationError as StdnumValidationError

from zikao.core.errors import ValidationFailed


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("居民身份证")
    HKMO_RESIDENCE_PERMIT = "hkmo_residence", _("港澳居民居住证")
    TW_RESIDENCE_PERMIT = "tw_residence", _("台湾居民居住证")
    HKMO_TRAVEL_PERMIT = "hkmo_travel", _("港澳居民来往内地通行证")
    TW_TRAVEL_PERMIT = "tw_travel", _("台湾居民来往大陆通行证")
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent", _("外国人永久居留身份证")
    PASSPORT = "passport", _("护照")


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


_RESIDENCE_PERMIT_PREFIX = {
    IdType.HKMO_RESIDENCE_PERMIT: ("810000", "820000"),
    IdType.TW_RESIDENCE_PERMIT: ("830000",),
}
_PATTERNS = {
    IdType.HKMO_TRAVEL_PERMIT: re.compile(r"^[HM]\d{8}(\d{2})?$"),
    IdType.TW_TRAVEL_PERMIT: re.compile(r"^\d{8}$"),
    # Old card: 3 letters (nationality) + 12 digits; 2023 card: 18 digits starting with 9.
    IdType.FOREIGN_PERMANENT_RESIDENCE: re.compile(r"^([A-Z]{3}\d{12}|9\d{17})$"),
    IdType.PASSPORT: re.compile(r"^[A-Z0-9]{5,20}$"),
}


@dataclass(frozen=True)
class IdDocument:
    """A checked identity document; birth date and gender are set where the number encodes them."""

    id_type: str
    number: str
    birth_date: date | None
    gender: str | None
    region_code: str | None  # 6-digit GB/T 2260 code of the place of registration (身份证 only)


def _validate_resident_id(number: str) -> str:
    """stdnum's validation, except that the region code need not have existed at birth.

    stdnum refuses a region code created after the birth year, but numbers are issued (or
    re-issued) where a person is registered, so a person born in 1970 can hold 320311 (泉山区,
    created in the 1990s). We keep length, format, check character and date checks, and
    require that the code is a region stdnum knows at all (docs/decisions/0002-identifiers.md).
    """
    try:
        return ric.validate(number)
    except InvalidComponent:
        ric.get_birth_date(number)  # raises InvalidComponent for an impossible date
        if not any("county" in props for _part, props in numdb.get("cn/loc").info(number[:6])):
            raise
        return number


def _invalid(message) -> ValidationFailed:
    return ValidationFailed("ID_NUMBER_INVALID", message, {"id_number": None})  # never echo the number


def _gender_from_sequence(number: str) -> str:
    # GB 11643: the 17th character is odd for men, even for women.
    return Gender.MALE if int(number[16]) % 2 else Gender.FEMALE


def parse_id_document(id_type: str, number: str) -> IdDocument:
    """Validate `number` as a document of `id_type`; raise ID_NUMBER_INVALID with a precise reason."""
    if id_type not in IdType.values:
        raise ValidationFailed("ID_TYPE_INVALID", _("证件类型无效。"), {"id_type": id_type})
    cleaned = re.sub(r"[\s-]", "", number or "").upper()
    if not cleaned:
        raise _invalid(_("请填写证件号码。"))
    if id_type == IdType.RESIDENT_ID:
        try:
            valid = _validate_resident_id(cleaned)
        except StdnumValidationError as exc:
            reason = {
                "InvalidLength": _("身份证号码应为18位。"),
                "InvalidFormat": _("身份证号码前17位应为数字。"),
                "InvalidChecksum": _("身份证号码校验位不正确。"),
                "InvalidComponent": _("身份证号码中的出生日期或地区码无效。"),
            }.get(type(exc).__name__, _("身份证号码无效。"))
            raise _invalid(reason) from exc
        return IdDocument(id_type, valid, ric.get_birth_date(valid), _gender_from_sequence(valid), valid[:6])
    if id_type in _RESIDENCE_PERMIT_PREFIX:
        if len(cleaned) != 18 or not cleaned[:17].isdigit():
            raise _invalid(_("居住证号码应为18位。"))
        if not cleaned.startswith(_RESIDENCE_PERMIT_PREFIX[IdType(id_type)]):
            raise _invalid(_("居住证号码的地区码与证件类型不符。"))
        if cleaned[-1] != ric.calc_check_digit(cleaned):
            raise _invalid(_("居住证号码校验位不正确。"))
        try:
            birth = ric.get_birth_date(cleaned)
        except StdnumValidationError as exc:
            raise _invalid(_("居住证号码中的出生日期无效。")) from exc
        return IdDocument(id_type, cleaned, birth, _gender_from_sequence(cleaned), None)
    if not _PATTERNS[IdType(id_type)].match(cleaned):
        raise _invalid(_("证件号码格式不正确。"))
    return IdDocument(id_type, cleaned, None, None, None)


def check_identity(id_type: str, number: str, *, birth_date: date | None, gender: str | None) -> IdDocument:
    """Parse the document and cross-check the birth date and gender the person gave.

    Refuses with ID_BIRTH_DATE_MISMATCH / ID_GENDER_MISMATCH when they contradict the number;
    fills them in from the number when not given; requires them for documents that do not
    encode them.
    """
    doc = parse_id_document(id_type, number)
    if doc.birth_date is not None:
        if birth_date is not None and birth_date != doc.birth_date:
            raise ValidationFailed(
                "ID_BIRTH_DATE_MISMATCH",
                _("出生日期与证件号码不一致。"),
                {"birth_date": doc.birth_date.isoformat()},
            )
        if gender is not None and gender != doc.gender:
            raise ValidationFailed("ID_GENDER_MISMATCH", _("性别与证件号码不一致。"), {"gender": doc.gender})
        return doc
    if birth_date is None or gender is None:
        raise ValidationFailed(
            "ID_DETAILS_REQUIRED", _("该证件类型须填写出生日期和性别。"), {"birth_date": None, "gender": None}
        )
    return IdDocument(doc.id_type, doc.number, birth_date, gender, None)


def make_resident_id(region_code: str, birth: date, sequence: int) -> str:
    """Build a valid 身份证 number (demo data and tests): region + birth date + 3-digit sequence + check."""
    if not (len(region_code) == 6 and region_code.isdigit() and 0 <= sequence <= 999):
        raise ValueError("region code must be 6 digits and sequence 0-999")
    body = f"{region_code}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects the check position present
