from __future__ import annotations

import pytest

from intake.reference import ALPHABET, DIGITS, find_reference, is_reference, new_reference


def test_new_references_are_well_formed_and_varied() -> None:
    refs = {new_reference() for _ in range(500)}
    assert len(refs) == 500
    for ref in refs:
        assert is_reference(ref)
        assert set(ref[4:]) <= set(ALPHABET)
        assert set(ref[4:]) & set(DIGITS)  # typed without its hyphen, it is still recognised


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Re: your message [REF-7K2Q9D]", "REF-7K2Q9D"),
        ("my ref is ref-7k2q9d thanks", "REF-7K2Q9D"),
        ("REF-ABCDEF has no digit but a hyphen", "REF-ABCDEF"),
        ("quote REF7K2Q9D please", "REF-7K2Q9D"),
        ("(ref7k2q9d).", "REF-7K2Q9D"),
        ("REF-7K2Q9O has an O in it", None),
        ("Please quote your reference number", None),  # the word is not a reference
        ("REFERENCE, REFEREE, referral", None),
        ("XREF-7K2Q9D", None),
        ("REF-7K2Q9DX", None),
        ("ref 7k2q9d", None),  # too loose
        ("nothing here", None),
    ],
)
def test_find_reference_in_text(text: str, expected: str | None) -> None:
    assert find_reference(text) == expected
