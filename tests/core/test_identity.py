import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from zikao.core.errors import ValidationFailed
from zikao.core.identity import IdType, check_identity, make_resident_id, parse_id_document

REGIONS = ["320102", "320106", "320205", "320311", "320506", "321302"]
births = st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2010, 12, 31))


@given(region=st.sampled_from(REGIONS), birth=births, seq=st.integers(0, 999))
def test_generated_resident_id_round_trips(region, birth, seq):
    number = make_resident_id(region, birth, seq)
    doc = parse_id_document(IdType.RESIDENT_ID, number)
    assert doc.number == number
    assert doc.birth_date == birth
    assert doc.gender == ("M" if seq % 2 else "F")
    assert doc.region_code == region
    assert ric.calc_check_digit(number) == number[-1]


@given(
    region=st.sampled_from(REGIONS),
    birth=births,
    seq=st.integers(0, 999),
    wrong=st.sampled_from("0123456789X"),
)
def test_any_wrong_check_character_is_refused(region, birth, seq, wrong):
    number = make_resident_id(region, birth, seq)
    if wrong == number[-1]:
        return
    with pytest.raises(ValidationFailed) as exc:
        parse_id_document(IdType.RESIDENT_ID, number[:-1] + wrong)
    assert exc.value.code == "ID_NUMBER_INVALID"
    assert "校验位" in str(exc.value.message)


@given(region=st.sampled_from(REGIONS), birth=births, seq=st.integers(0, 999), pos=st.integers(0, 16))
def test_any_single_digit_change_is_detected(region, birth, seq, pos):
    number = make_resident_id(region, birth, seq)
    changed = number[:pos] + str((int(number[pos]) + 1) % 10) + number[pos + 1 :]
    with pytest.raises(ValidationFailed):
        parse_id_document(IdType.RESIDENT_ID, changed)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("32010219950314123", "18位"),
        ("3201021995031412A4", "前17位"),
        ("32010219950230123" + ric.calc_check_digit("32010219950230123" + "0"), "出生日期"),
        ("99010219950301123" + ric.calc_check_digit("99010219950301123" + "0"), "地区码"),
    ],
)
def test_malformed_resident_ids_name_the_problem(number, reason):
    with pytest.raises(ValidationFailed) as exc:
        parse_id_document(IdType.RESIDENT_ID, number)
    assert reason in str(exc.value.message)


def test_region_code_created_after_birth_is_accepted():
    # 320311 泉山区 did not exist in 1970, but a number issued there later is genuine.
    number = make_resident_id("320311", dt.date(1970, 1, 4), 221)
    assert parse_id_document(IdType.RESIDENT_ID, number).region_code == "320311"


def test_lower_case_x_and_spaces_are_normalised():
    body = "11010519491231002"
    number = body + ric.calc_check_digit(body + "0")
    assert number.endswith("X")
    assert parse_id_document(IdType.RESIDENT_ID, f" {number[:6]} {number[6:].lower()} ").number == number


def test_cross_check_refuses_birth_date_and_gender_mismatch():
    number = make_resident_id("320102", dt.date(1995, 3, 14), 123)  # odd: male
    with pytest.raises(ValidationFailed) as exc:
        check_identity(IdType.RESIDENT_ID, number, birth_date=dt.date(1995, 3, 15), gender=None)
    assert exc.value.code == "ID_BIRTH_DATE_MISMATCH"
    with pytest.raises(ValidationFailed) as exc:
        check_identity(IdType.RESIDENT_ID, number, birth_date=None, gender="F")
    assert exc.value.code == "ID_GENDER_MISMATCH"
    doc = check_identity(IdType.RESIDENT_ID, number, birth_date=None, gender=None)
    assert (doc.birth_date, doc.gender) == (dt.date(1995, 3, 14), "M")


def test_residence_permits_use_the_same_check_character():
    body = "81000019900101002"
    good = body + ric.calc_check_digit(body + "0")
    doc = parse_id_document(IdType.HKMO_RESIDENCE_PERMIT, good)
    assert (doc.birth_date, doc.gender) == (dt.date(1990, 1, 1), "F")
    with pytest.raises(ValidationFailed):
        parse_id_document(IdType.TW_RESIDENCE_PERMIT, good)  # 810000 is Hong Kong, not Taiwan
    bad = body + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ValidationFailed):
        parse_id_document(IdType.HKMO_RESIDENCE_PERMIT, bad)


@pytest.mark.parametrize(
    ("id_type", "good", "bad"),
    [
        (IdType.HKMO_TRAVEL_PERMIT, "H12345678", "X12345678"),
        (IdType.TW_TRAVEL_PERMIT, "12345678", "1234567"),
        (IdType.FOREIGN_PERMANENT_RESIDENCE, "USA320012345678", "US3200123456"),
        (IdType.PASSPORT, "E12345678", "E1"),
    ],
)
def test_other_documents_are_typed_and_need_birth_date_and_gender(id_type, good, bad):
    with pytest.raises(ValidationFailed) as exc:
        check_identity(id_type, good, birth_date=None, gender=None)
    assert exc.value.code == "ID_DETAILS_REQUIRED"
    doc = check_identity(id_type, good, birth_date=dt.date(1990, 5, 1), gender="M")
    assert (doc.number, doc.birth_date, doc.gender) == (good, dt.date(1990, 5, 1), "M")
    with pytest.raises(ValidationFailed) as exc:
        parse_id_document(id_type, bad)
    assert exc.value.code == "ID_NUMBER_INVALID"


def test_unknown_document_type_is_refused():
    with pytest.raises(ValidationFailed) as exc:
        parse_id_document("library_card", "123")
    assert exc.value.code == "ID_TYPE_INVALID"
