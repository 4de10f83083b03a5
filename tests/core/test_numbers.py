import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_11_2

from zikao.core.numbers import (
    candidate_no_prefix,
    is_valid_candidate_no,
    is_valid_certificate_no,
    make_certificate_no,
    parse_candidate_no,
)

two = st.integers(1, 99).map(lambda n: f"{n:02d}")


@given(
    city=two,
    county=two,
    year=st.integers(2000, 2099),
    month=st.sampled_from([1, 4, 7, 10]),
    seq=st.integers(1, 99999),
)
def test_candidate_numbers_round_trip(city, county, year, month, seq):
    number = f"{candidate_no_prefix(city, county, year, month)}{seq:05d}"
    assert len(number) == 12 and number.isdigit()
    parsed = parse_candidate_no(number)
    assert (parsed.city, parsed.county, parsed.year, parsed.sequence) == (
        city,
        county,
        f"{year % 100:02d}",
        seq,
    )
    assert parsed.sitting_digit == ("1" if month in (1, 4) else "2")
    assert str(parsed) == number
    assert is_valid_candidate_no(number)


@given(st.text(max_size=14))
def test_anything_not_twelve_digits_is_not_a_candidate_number(text):
    if len(text) == 12 and text.isascii() and text.isdigit() and text[6] in "12" and int(text[7:]) >= 1:
        assert is_valid_candidate_no(text)
    else:
        assert not is_valid_candidate_no(text)


def test_seed_example_shape_is_a_candidate_number():
    assert is_valid_candidate_no("011222300077") is False  # sitting digit 3 is not a half-year
    assert is_valid_candidate_no("011222100077")
    with pytest.raises(ValueError):
        candidate_no_prefix("1", "02", 2024, 4)


@given(
    level=st.sampled_from(["benke", "zhuanke"]),
    city=two,
    county=two,
    year=st.integers(2000, 2099),
    half=st.sampled_from([1, 2]),
    seq=st.integers(1, 99999),
)
def test_certificate_numbers_are_17_with_mod_11_2_check(level, city, county, year, half, seq):
    number = make_certificate_no(
        level=level, province="32", city=city, county=county, year=year, half=half, sequence=seq
    )
    assert len(number) == 17
    assert number[:2] == ("65" if level == "benke" else "66")
    assert number[2:4] == "32"
    assert mod_11_2.is_valid(number)
    assert is_valid_certificate_no(number)
    wrong = next(c for c in "0123456789X" if c != number[-1])
    assert not is_valid_certificate_no(number[:-1] + wrong)
