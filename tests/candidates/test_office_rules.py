"""Pure rules of record administration: document normalisation and the same-person check."""

from __future__ import annotations

import datetime as dt

import pytest

from zikao.candidates import rules
from zikao.core.identity import make_resident_id, parse_id_document

BIRTH = dt.date(1965, 3, 14)
NEW_ID = make_resident_id("320102", BIRTH, 123)  # 18 digits, born in the 1900s
OLD_ID = NEW_ID[:6] + NEW_ID[8:17]  # the first-generation 15-digit card of the same person


def test_fifteen_digit_card_upgrades_to_its_eighteen_digit_number():
    assert len(OLD_ID) == 15
    assert rules.upgrade_resident_id(OLD_ID) == NEW_ID
    assert parse_id_document("resident_id", rules.upgrade_resident_id(OLD_ID)).birth_date == BIRTH
    assert rules.upgrade_resident_id(NEW_ID) is None
    assert rules.upgrade_resident_id("32010265031412") is None  # 14 digits


def test_downgrade_only_for_the_1900s():
    assert rules.downgrade_resident_id(NEW_ID) == OLD_ID
    born_2001 = make_resident_id("320102", dt.date(2001, 1, 2), 5)
    assert rules.downgrade_resident_id(born_2001) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (NEW_ID, NEW_ID),
        (f" {NEW_ID[:6]}-{NEW_ID[6:14]} {NEW_ID[14:]} ", NEW_ID),
        (OLD_ID, NEW_ID),
        ("３２０１０２" + NEW_ID[6:], NEW_ID),  # full-width digits typed on a Chinese keyboard
        ("h1234567(8)", "H12345678"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_document_number(raw, expected):
    assert rules.normalize_document_number(raw) == expected


def test_lower_case_check_character_normalises_to_upper():
    with_x = next(
        make_resident_id("320102", BIRTH, n)
        for n in range(1000)
        if make_resident_id("320102", BIRTH, n)[-1] == "X"
    )
    assert rules.normalize_document_number(with_x.lower()) == with_x
    assert rules.document_number_variants(with_x.lower()) == [
        with_x,
        with_x[:6] + with_x[8:17],
        with_x[:-1] + "x",
    ]


def test_variants_of_an_old_and_a_new_number():
    assert rules.document_number_variants(OLD_ID) == [OLD_ID, NEW_ID]
    assert rules.document_number_variants(NEW_ID)[:2] == [NEW_ID, OLD_ID]
    assert rules.document_number_variants("  ") == []


def _facts(name="王小明", birth=BIRTH, docs=(NEW_ID,)):
    return rules.PersonFacts(name, birth, tuple(docs))


def test_same_person_when_name_birth_and_document_match():
    assert rules.same_person_problems(_facts(), _facts(docs=(OLD_ID,))) == []
    assert rules.same_person_problems(_facts(name="John  Smith"), _facts(name="JOHN SMITH")) == []


@pytest.mark.parametrize(
    ("other", "problems"),
    [
        (_facts(name="王晓明"), [rules.NAME_DIFFERS]),
        (_facts(birth=dt.date(1965, 3, 15)), [rules.BIRTH_DATE_DIFFERS]),
        (_facts(docs=(make_resident_id("320102", BIRTH, 124),)), [rules.ID_DIFFERS]),
        (
            _facts(name="李华", birth=dt.date(1970, 1, 1), docs=("E12345678",)),
            [rules.NAME_DIFFERS, rules.BIRTH_DATE_DIFFERS, rules.ID_DIFFERS],
        ),
    ],
)
def test_not_the_same_person(other, problems):
    assert rules.same_person_problems(_facts(), other) == problems


def test_a_pending_correction_number_bridges_the_documents():
    wrong = make_resident_id("320102", BIRTH, 999)
    assert rules.documents_match((wrong, NEW_ID), (NEW_ID,)) is True
    assert rules.documents_match((wrong,), (NEW_ID,)) is False
    assert rules.documents_match(("",), ("",)) is False
