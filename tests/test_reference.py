from __future__ import annotations

from intake.reference import ALPHABET, find_reference, is_reference, new_reference


def test_new_references_are_well_formed_and_varied() -> None:
    refs = {new_reference() for _ in range(500)}
    assert len(refs) == 500
    for ref in refs:
        assert is_reference(ref)
        assert set(ref[4:]) <= set(ALPHABET)


def test_find_reference_in_text() -> None:
    assert find_reference("Re: your message [REF-7K2Q9D]") == "REF-7K2Q9D"
    assert find_reference("my ref is ref-7k2q9d thanks") == "REF-7K2Q9D"
    assert find_reference("REF-7K2Q9O has an O in it") is None
    assert find_reference("nothing here") is None
