from intake.extraction import ExtractionResult, extract


def test_self_referral_takes_phone_from_channel() -> None:
    r = extract("I've been sectioned and want an advocate for my tribunal", "sms", "+447700900101")
    assert r.fields["referral_for"] == "self"
    assert r.fields["phone"] == "+447700900101"
    assert r.fields["advocacy_type"] == "imha"


def test_number_in_text_about_the_subject_is_the_subjects() -> None:
    r = extract(
        "My dad is on a section 3 and needs an advocate. My dad's number is 07700 900123.",
        "sms",
        "+447700900555",
    )
    assert r.fields["referral_for"] == "other"
    assert r.fields["phone"] == "+447700900123"
    assert r.fields["relationship"] == "child"
    assert r.fields["referrer"]["phone"] == "+447700900555"


def test_senders_own_number_is_never_the_subjects() -> None:
    r = extract(
        "My neighbour Doris is 90 and needs a care assessment. Call me on 07700 900444.",
        "sms",
        "+447700900333",
    )
    assert r.fields["referral_for"] == "other"
    assert "phone" not in r.fields
    assert r.fields["referrer"]["phone"] == "+447700900444"
    assert r.fields["name"] == r.fields["subject_name"] == "Doris"


def test_third_partys_number_in_a_self_referral_is_ignored() -> None:
    r = extract(
        "I'm in Ward 7 and need help with a care assessment. My daughter's number is 07700 900213.",
        "sms",
        "+447700900113",
    )
    assert r.fields["referral_for"] == "self"
    assert r.fields["phone"] == "+447700900113"


def test_signature_block_is_the_referrers() -> None:
    text = (
        "Hello,\n\nI would like to refer Mr Arthur Bell for Care Act advocacy; he is having a "
        "needs assessment. His landline is 01632 960131.\n\n"
        "Kind regards,\nJane Smith\nSocial Worker\nAnytown Council\n01632 960123\n"
        "jane.smith@anytown.example.gov.uk"
    )
    r = extract(text, "email", "jane.smith@anytown.example.gov.uk")
    assert r.fields["referral_for"] == "other"
    assert r.fields["relationship"] == "social worker"
    assert r.fields["phone"] == "+441632960131"
    assert r.fields["name"] == "Arthur Bell"
    assert "email" not in r.fields
    assert r.fields["referrer"] == {
        "name": "Jane Smith",
        "role": "social worker",
        "organisation": "Anytown Council",
        "phone": "+441632960123",
        "email": "jane.smith@anytown.example.gov.uk",
    }
    assert r.fields["advocacy_type"] == "care_act"


def test_voicemail_numbers_in_words() -> None:
    r = extract(
        "Hi my name is Jean Marsh, I need help with my care assessment. "
        "My number is oh one one three four nine six oh double five one.",
        "voicemail",
        "+441134960999",
    )
    assert r.fields["phone"] == "+441134960551"
    assert r.fields["name"] == "Jean Marsh"


def test_do_not_text_back_is_unsafe_and_text_only_is_a_preference() -> None:
    unsafe = extract("he checks my phone so do not text back, I need help with my care plan")
    assert unsafe.fields["safe_to_contact"] is False
    pref = extract("I'm in foster care and want an advocate, please dont ring, text only")
    assert pref.fields["preferred_contact"] == "sms"
    assert "safe_to_contact" not in pref.fields


def test_other_fields() -> None:
    r = extract(
        "Referral for Mrs Fatima Noor, DOB 01/02/1950, NHS number 999 917 4000, postcode ls27aw. "
        "She speaks Urdu and needs easy read. She has agreed to the referral.",
        "email",
        "adviser@example.org",
    )
    assert r.fields["dob"] == "1950-02-01"
    assert r.fields["nhs_number"] == "9999174000"
    assert r.fields["postcode"] == "LS2 7AW"
    assert r.fields["interpreter_language"] == "Urdu"
    assert r.fields["accessibility_needs"] == ["easy read"]
    assert r.fields["consent"] is True


def test_confidence_per_field_and_to_dict() -> None:
    r = extract(
        "I want to complain about my GP. Email me at a.b@example.com", "sms", "+447700900177"
    )
    assert isinstance(r, ExtractionResult)
    # the eligibility card's keys each carry their own confidence ("eligibility.<key>")
    card_keys = {f"eligibility.{k}" for k in r.fields.get("eligibility", {})}
    assert card_keys == {"eligibility.complaint_service"}
    assert set(r.confidence) == (set(r.fields) - {"eligibility"}) | card_keys
    assert set(r.evidence) == card_keys
    assert all(0.0 <= c <= 1.0 for c in r.confidence.values())
    d = r.to_dict()
    assert d["email"] == "a.b@example.com" and d["confidence"]["email"] == r.confidence["email"]


def test_nothing_said_nothing_returned() -> None:
    r = extract("ok", "sms", None)
    assert "phone" not in r.fields and "advocacy_type" not in r.fields
