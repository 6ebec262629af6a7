"""The referral page and every action on it, through real HTTP, with the audit each leaves."""

from __future__ import annotations

import httpx
import pytest

from intake.runtime import Runtime
from tests.support.twilio_standin import TwilioStandIn
from tests.web.dashboard.conftest import ADVOCATE, post_action

EMERGENCY = "ive taken all my tablets 800mg <b>i cant</b> do this anymore"


def actions(runtime: Runtime, reference: str) -> list[tuple[str, str]]:
    referral = runtime.store.get_referral(reference)
    return [(e["actor"], e["action"]) for e in runtime.store.audit_for(referral.id)]


def test_page_shows_the_message_with_matches_highlighted_and_escaped(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed(EMERGENCY)
    html = advocate.get(f"{live_url}/referrals/{reference}").text
    assert '<mark class="match" title="suicide_self_harm">taken all my tablets 800mg</mark>' in html
    assert "&lt;b&gt;i cant&lt;/b&gt;" in html
    assert "<b>i cant</b>" not in html
    assert (ADVOCATE, "referral.viewed") in actions(runtime, reference)


def test_page_shows_the_thread_including_the_acknowledgement(
    live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed("Could I have an advocate for my mums care review please")
    html = advocate.get(f"{live_url}/referrals/{reference}").text
    assert "Could I have an advocate for my mums care review please" in html
    assert "Sent ack by SMS to +447700900123 (sent)" in html


def test_voicemail_has_a_player_and_transcript(live_url: str, advocate: httpx.Client, seed) -> None:
    reference = seed(
        "Hello its Mo calling for my uncle who is on a section at the Royal, he wants an advocate",
        channel="voice",
        meta={"recording_url": "https://api.twilio.com/recordings/RE123.mp3"},
    )
    html = advocate.get(f"{live_url}/referrals/{reference}").text
    assert (
        '<audio controls preload="none" src="https://api.twilio.com/recordings/RE123.mp3">' in html
    )
    assert "<strong>Transcript:</strong> Hello its Mo calling" in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "//evil.example/recording.mp3",
        "https:///nohost",
    ],
)
def test_a_recording_url_that_is_not_http_is_never_a_link(
    live_url: str, advocate: httpx.Client, seed, url: str
) -> None:
    """A forged callback could store any string as the recording's address (issue 15): only an
    absolute http(s) URL becomes a player or a link, whatever CSP would block."""
    reference = seed(
        "Please call me back about my dad", channel="voice", meta={"recording_url": url}
    )
    html = advocate.get(f"{live_url}/referrals/{reference}").text
    assert "<audio" not in html and "download it" not in html
    assert "not a web (http or https) address" in html
    for dangerous in ("javascript:", "vbscript:", "data:text", "evil.example"):
        assert dangerous not in html.lower()


def test_web_link_accepts_only_absolute_http_urls() -> None:
    from intake.web.dashboard.present import web_link

    assert web_link("https://api.twilio.com/2010-04-01/Recordings/RE1") != ""
    assert web_link("http://media.example.org/a.mp3") == "http://media.example.org/a.mp3"
    for bad in ("javascript:alert(1)", "https://x.org/a b", 'https://x.org/"><script>', None, 3):
        assert web_link(bad) == ""


def test_mail_whose_sender_could_not_be_verified_says_so(
    live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed(
        "Please stop all contact with my sister",
        channel="email",
        sender="jo@example.org",
        meta={"sender_verified": False, "sender_trust": "From differs from the envelope sender"},
    )
    html = advocate.get(f"{live_url}/referrals/{reference}").text
    assert "(sender not verified: From differs from the envelope sender)" in html


def test_unknown_referral_is_404(live_url: str, advocate: httpx.Client) -> None:
    assert advocate.get(f"{live_url}/referrals/NOPE1234").status_code == 404


def test_claim_unclaim_triage_and_close(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed(EMERGENCY)
    rid = runtime.store.get_referral(reference).id

    assert post_action(advocate, live_url, reference, "claim").status_code == 303
    assert runtime.store.work.get(rid)["claimed_by"] == ADVOCATE
    post_action(advocate, live_url, reference, "unclaim")
    assert runtime.store.work.get(rid)["claimed_by"] is None
    post_action(advocate, live_url, reference, "triaged")
    assert runtime.store.get_referral(reference).status == "triaged"
    assert runtime.store.work.get(rid)["triaged_by"] == ADVOCATE
    bad = post_action(advocate, live_url, reference, "close", outcome="made up")
    assert bad.status_code == 400
    post_action(advocate, live_url, reference, "close", outcome="Referred to an advocate")
    assert runtime.store.get_referral(reference).status == "closed"
    assert runtime.store.work.get(rid)["outcome"] == "Referred to an advocate"
    done = [
        a for _, a in actions(runtime, reference) if a.startswith("referral.") and "view" not in a
    ]
    assert done[-4:] == [
        "referral.claimed",
        "referral.unclaimed",
        "referral.triaged",
        "referral.closed",
    ]


def test_change_urgency_needs_a_reason(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed("Could I have an advocate for my mums care review please")
    assert runtime.store.get_referral(reference).urgency == "routine"
    refused = post_action(advocate, live_url, reference, "urgency", urgency="urgent", reason="")
    assert refused.status_code == 400
    post_action(
        advocate, live_url, reference, "urgency", urgency="urgent", reason="Review is tomorrow"
    )
    referral = runtime.store.get_referral(reference)
    assert referral.urgency == "urgent"
    [entry] = [
        e for e in runtime.store.audit_for(referral.id) if e["action"] == "referral.urgency_changed"
    ]
    assert entry["detail"] == {"from": "routine", "to": "urgent", "reason": "Review is tomorrow"}
    assert entry["actor"] == ADVOCATE


def test_notes_and_field_edits_keep_who_changed_what(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed("My name is Jo Bloggs and I need help with a complaint about the hospital")
    post_action(advocate, live_url, reference, "note", note="Tried to call, no answer <script>")
    post_action(advocate, live_url, reference, "field", field="name", value="Joanne Bloggs")
    post_action(advocate, live_url, reference, "field", field="postcode", value="LS1 4AB")
    referral = runtime.store.get_referral(reference)
    assert referral.fields["name"] == "Joanne Bloggs"
    assert referral.fields["postcode"] == "LS1 4AB"
    html = advocate.get(f"{live_url}/referrals/{reference}").text
    assert "Tried to call, no answer &lt;script&gt;" in html
    assert "advocate@example.org changed Name from “Jo Bloggs” to “Joanne Bloggs”" in html
    assert "changed Postcode from “” to “LS1 4AB”" in html
    # searching finds the corrected name
    assert reference in advocate.get(live_url + "/", params={"q": "Joanne"}).text
    refused = post_action(advocate, live_url, reference, "field", field="no_such", value="x")
    assert refused.status_code == 400


def test_reply_goes_to_the_person_on_their_channel(
    runtime: Runtime, live_url: str, advocate: httpx.Client, twilio: TwilioStandIn, seed
) -> None:
    reference = seed("Could I have an advocate for my mums care review please")
    before = len(twilio.messages)
    response = post_action(advocate, live_url, reference, "reply", template="call_back", nonce="n1")
    assert response.status_code == 303
    [sent] = twilio.messages[before:]
    assert sent.value("To") == "+447700900123"
    assert reference in sent.value("Body")
    assert "call you back" in sent.value("Body")
    # the same form submitted twice (double click) sends once
    post_action(advocate, live_url, reference, "reply", template="call_back", nonce="n1")
    assert len(twilio.messages) == before + 1
    entries = [e for e in runtime.store.audit_for() if e["action"] == "referral.replied"]
    assert [e["detail"]["status"] for e in entries] == ["sent", "duplicate"]
    assert "Sent reply by SMS" in advocate.get(f"{live_url}/referrals/{reference}").text


def test_no_reply_when_not_safe_to_contact_or_opted_out(
    runtime: Runtime, live_url: str, advocate: httpx.Client, twilio: TwilioStandIn, seed
) -> None:
    unsafe = seed(
        "please dont text back he checks my phone, my partner hits me", sender="+447700900801"
    )
    assert not runtime.store.get_referral(unsafe).safe_to_contact
    html = advocate.get(f"{live_url}/referrals/{unsafe}").text
    assert "Not safe to contact" in html
    before = len(twilio.messages)
    refused = post_action(advocate, live_url, unsafe, "reply", template="call_back")
    assert refused.status_code == 409
    stopped = seed("Can I get an advocate for my care review", sender="+447700900802")
    seed("STOP", sender="+447700900802", meta={"OptOutType": "STOP"})
    before = len(twilio.messages)
    assert "opted out" in advocate.get(f"{live_url}/referrals/{stopped}").text
    refused = post_action(advocate, live_url, stopped, "reply", template="call_back")
    assert refused.status_code == 409
    assert len(twilio.messages) == before


def test_forward_now_is_audited(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed("Could I have an advocate for my mums care review please")
    post_action(advocate, live_url, reference, "forward")
    names = [a for _, a in actions(runtime, reference)]
    assert "referral.forward_requested" in names
