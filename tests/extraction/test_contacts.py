from intake.extraction.contacts import (
    find_emails,
    find_phones,
    find_postcodes,
    normalise_postcode,
    to_e164,
)


def test_uk_test_ranges_parse_to_e164() -> None:
    assert to_e164("07700 900123") == "+447700900123"
    assert to_e164("01632 960123") == "+441632960123"
    assert to_e164("+44 (0)20 7946 0123") == "+442079460123"
    assert to_e164("0113 496 0000") == "+441134960000"


def test_too_short_or_unprefixed_numbers_are_not_phones() -> None:
    assert to_e164("07700 9001") is None
    assert to_e164("999 917 4000") is None  # an NHS number, not a phone number


def test_find_phones_skips_dates_and_nhs_numbers() -> None:
    text = "DOB 14/07/1989, NHS 999 898 0534, call 07700 900123 or 0161 496 0115."
    assert [h.value for h in find_phones(text)] == ["+447700900123", "+441614960115"]


def test_postcode_normalised_upper_case_one_space() -> None:
    assert normalise_postcode("ls27aw") == "LS2 7AW"
    assert normalise_postcode("m14   5xy") == "M14 5XY"
    assert normalise_postcode("SW1A1AA") == "SW1A 1AA"
    assert normalise_postcode("QQ1 1AA") is None  # no such postcode area


def test_postcode_look_alikes_are_ignored() -> None:
    assert find_postcodes("on s3 at Chase Farm, section 2 on Ward 4") == []


def test_spelled_out_postcode_after_cue() -> None:
    assert [h.value for h in find_postcodes("my postcode is L E 2, 3 F X.")] == ["LE2 3FX"]


def test_emails_lower_cased() -> None:
    assert [h.value for h in find_emails("Mail Jane.Smith@Anytown.example.gov.uk now")] == [
        "jane.smith@anytown.example.gov.uk"
    ]
