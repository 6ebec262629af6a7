"""Property tests for the SMS webhook's form parsing: whatever Twilio (or anyone) posts, the
parser returns a well-formed message and the webhook answers without a server error."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.sms.webhook import KEPT_FIELDS, message_from_form
from intake.models import InboundMessage
from intake.runtime import Runtime
from tests.conftest import ACCOUNT_SID, FROM_NUMBER
from tests.support.twilio_signing import post_signed

TWILIO_FIELDS = [
    "MessageSid",
    "SmsSid",
    "AccountSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "NumSegments",
    "OptOutType",
    "FromCity",
    "FromCountry",
    *(f"MediaUrl{i}" for i in range(12)),
    *(f"MediaContentType{i}" for i in range(12)),
]

text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200)
num_media = st.one_of(st.integers(-5, 40).map(str), text)
forms = st.dictionaries(
    st.one_of(st.sampled_from(TWILIO_FIELDS), text),
    text,
    max_size=30,
).flatmap(lambda d: st.fixed_dictionaries({"NumMedia": num_media}).map(lambda m: {**d, **m}))

AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@given(forms)
def test_any_form_parses_into_a_well_formed_message(form: dict[str, str]) -> None:
    message = message_from_form(form, received_at=AT)
    assert message.channel == "sms"
    assert message.body == (form.get("Body") or "")
    assert message.sender == (form.get("From") or "")
    assert message.provider_id == (form.get("MessageSid") or form.get("SmsSid") or "")
    assert set(message.meta) <= {*KEPT_FIELDS, "media"}
    media = message.meta.get("media", [])
    assert len(media) <= 10
    assert all(item["url"] for item in media)
    assert InboundMessage.from_payload(message.to_payload()) == message


@given(st.integers(0, 10), st.integers(0, 10))
def test_media_is_taken_up_to_num_media_and_only_when_a_url_is_present(
    declared: int, present: int
) -> None:
    form = {"NumMedia": str(declared), "MessageSid": "SM1", "From": "+447700900100"}
    for i in range(present):
        form[f"MediaUrl{i}"] = f"https://api.twilio.com/media/ME{i}"
        form[f"MediaContentType{i}"] = "image/jpeg"
    media = message_from_form(form, received_at=AT).meta.get("media", [])
    expected = [f"https://api.twilio.com/media/ME{i}" for i in range(min(declared, present))]
    assert [m["url"] for m in media] == expected


bodies = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=0, max_size=1600
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, extra=st.dictionaries(st.sampled_from(TWILIO_FIELDS[6:]), text, max_size=6))
def test_the_live_webhook_never_answers_a_server_error(
    runtime: Runtime, live_url: str, http: httpx.Client, body: str, extra: dict[str, str]
) -> None:
    form = {
        **extra,
        "MessageSid": "SM" + "2" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": "+447700900222",
        "To": FROM_NUMBER,
        "Body": body,
    }
    response = post_signed(http, live_url + "/twilio/sms", form, runtime.settings.twilio_auth_token)
    assert response.status_code == 200, response.text
    assert "<Response" in response.text
