from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.extraction.identity import (
    find_dob,
    find_nhs_number,
    nhs_checksum_ok,
    sender_name,
    subject_name,
)


def _check_digit(nine: str) -> int:
    total = sum(int(d) * (10 - i) for i, d in enumerate(nine))
    return (11 - total % 11) % 11


def test_known_nhs_numbers() -> None:
    assert nhs_checksum_ok("9434765919")
    assert not nhs_checksum_ok("9434765918")
    assert not nhs_checksum_ok("943476591")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_checksum_accepts_correct_and_rejects_altered(nine: str) -> None:
    check = _check_digit(nine)
    if check == 10:
        assert not any(nhs_checksum_ok(nine + str(d)) for d in range(10))
        return
    assert nhs_checksum_ok(nine + str(check))
    assert not nhs_checksum_ok(nine + str((check + 1) % 10))


def test_nhs_number_found_labelled_or_spaced_and_invalid_ignored() -> None:
    assert find_nhs_number("NHS number 9994736884") == "9994736884"
    assert find_nhs_number("ref 999 917 4000.") == "9999174000"
    assert find_nhs_number("NHS no 999 297 5505") is None
    assert find_nhs_number("order 9994736884") is None  # unlabelled and unspaced


def test_dob_formats_day_first() -> None:
    today = date(2025, 1, 1)
    assert find_dob("DOB 03/02/1938", today) == "1938-02-03"
    assert find_dob("date of birth 22 June 1946", today) == "1946-06-22"
    assert find_dob("DOB: 5.4.1952", today) == "1952-04-05"
    assert find_dob("born 1/5/70", today) == "1970-05-01"
    assert find_dob("appointment 03/02/2024", today) is None


def test_names_from_introductions_and_subject_phrases() -> None:
    assert sender_name("Hello, my name is Daniel Price. I'm detained") == "Daniel Price"
    assert sender_name("Sectioned 3 days ago. Want to appeal. Kev") == "Kev"
    assert subject_name("my dad is sectioned. Dad is Peter Walsh") == "Peter Walsh"
    assert subject_name("I would like to refer Mr Arthur Bell (DOB") == "Arthur Bell"
    assert subject_name("about my neighbour Mrs Green, she's") == "Mrs Green"


# -- names with letters outside ASCII (issue 15) ------------------------------------------------

NAMES = [
    ("Referral for Siân Jones, she has dementia and needs an advocate.", "Siân Jones"),
    ("Referral for Zoë Smith please", "Zoë Smith"),
    ("Referral for Zoe\u0308 Smith please", "Zoë Smith"),  # decomposed: composed first
    ("My dad Łukasz Nowak is in hospital", "Łukasz Nowak"),
    ("my brother Ciarán O'Neill is on a section 3", "Ciarán O'Neill"),
    ("Referral for Anne-Marie McDonald, 84", "Anne-Marie McDonald"),
    ("My mum Bożena Wiśniewska needs an interpreter", "Bożena Wiśniewska"),
    ("My nan Ffion Llŷr lives alone", "Ffion Llŷr"),
]


@pytest.mark.parametrize(("text", "name"), NAMES)
def test_names_outside_ascii_are_extracted_whole(text: str, name: str) -> None:
    from intake.extraction import extract

    fields = extract(text, "sms", "+447700900811").to_dict()
    assert fields["name"] == name
    assert fields["confidence"]["name"] >= 0.5  # said plainly: "referral for", "my dad"


def test_names_from_weak_cues_are_not_stored_as_sure() -> None:
    from intake.extraction import extract

    by_age = extract("Please help Zoë Smith (14), my neighbour's girl", "sms", "+447700900811")
    fields = by_age.to_dict()
    assert fields["name"] == "Zoë Smith"
    assert fields["confidence"]["name"] < 0.5  # found by its shape only: a person checks it


def test_a_name_cut_short_is_not_trusted() -> None:
    from intake.extraction.identity import _first_name_match

    # A pattern that can only see part of a word leaves the rest running on: unsure.
    found = _first_name_match("Referral for Sián", [(r"for (?P<name>Si)", 0.75)])
    assert found == ("Si", 0.3)
