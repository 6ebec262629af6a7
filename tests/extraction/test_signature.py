from intake.extraction.signature import parse, split

EMAIL = (
    "Dear team,\n\nPlease see referral for Mr Arthur Bell. His landline is 01632 960131.\n\n"
    "Kind regards,\nJane Smith\nSocial Worker\nAnytown Council\n01632 960123\n"
    "jane.smith@anytown.example.gov.uk"
)


def test_split_keeps_body_and_block_apart() -> None:
    body, block = split(EMAIL)
    assert "01632 960131" in body and "01632 960123" not in body
    assert block.startswith("Jane Smith")


def test_parse_block() -> None:
    sig = parse(split(EMAIL)[1])
    assert sig is not None
    assert sig.name == "Jane Smith"
    assert sig.role == "social worker"
    assert sig.organisation == "Anytown Council"
    assert sig.phones == ("+441632960123",)
    assert sig.emails == ("jane.smith@anytown.example.gov.uk",)


def test_inline_sign_off_in_a_text() -> None:
    body, block = split("Ward: Maple, 0151 496 0193. Thanks, Dawn (Nurse)")
    assert body.endswith("0193.")
    sig = parse(block)
    assert sig is not None and sig.name == "Dawn" and sig.role == "nurse"


def test_sentence_starting_with_a_closing_word_is_not_a_signature() -> None:
    assert split("My name is Kerry. Best to text me.") == ("My name is Kerry. Best to text me.", "")
