"""Real-world messages on the Messaging webhook, one table (issue 15).

Each row is a kind of input other services found breaking theirs (Twilio's documented payloads,
helpdesks' bug reports), with personal details replaced: signed and posted to the real app on a
loopback port, run by a real RQ worker against the store, with the Twilio stand-in serving media
(only to the account's credentials) and refusing what Twilio refuses (21910). Each asserts the
stored referral, its attachments and what the sender received.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from intake.config import Settings
from intake.runtime import Runtime
from intake.users import add_user
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.fixtures.email._builders import make_pdf
from tests.support import twilio_standin
from tests.support.twilio_signing import post_signed
from tests.support.twilio_standin import TwilioStandIn
from tests.web.dashboard.conftest import ADVOCATE, PASSWORD, log_in
from worker import build_worker

MEDIA = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'1' * 32}/Media"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SHARED_KEY_ID, SHARED_SECRET = "webhooks_sharedkey_0001", "shared-secret-0001"
NEXT_KEY_ID, NEXT_SECRET = "webhooks_sharedkey_0002", "shared-secret-0002"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(
        session_cookie_secure=False,
        secret_key="test-secret-" + "x" * 20,
        twilio_webhook_shared_keys=((SHARED_KEY_ID, SHARED_SECRET), (NEXT_KEY_ID, NEXT_SECRET)),
        twilio_media_hosts=("127.0.0.2",),
    )


@pytest.fixture
def cdn() -> Iterator[TwilioStandIn]:
    """Twilio's media CDN, on another loopback address (127.0.0.2)."""
    standin = twilio_standin.start("127.0.0.2")
    yield standin
    standin.close()


@dataclass
class World:
    runtime: Runtime
    url: str
    http: httpx.Client
    twilio: TwilioStandIn
    cdn: TwilioStandIn

    def post(self, form: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        if headers is None:
            return post_signed(self.http, self.url + "/twilio/sms", form, AUTH_TOKEN)
        return self.http.post(self.url + "/twilio/sms", data=form, headers=headers)

    def work(self) -> None:
        build_worker(self.runtime, simple=True).work(burst=True)

    def referral_for(self, sid: str) -> Any:
        return self.runtime.store.find_referral_for_message("sms", sid)


def sign_sha256(secret: str, url: str, form: dict[str, str]) -> str:
    payload = url + "".join(k + form[k] for k in sorted(form))
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def shared_key_headers(world: World, form: dict[str, str], key: str, secret: str) -> dict[str, str]:
    return {
        "X-Twilio-Webhooks-Signature-Settings": f"key={key},algorithm=HMAC_SHA256",
        "X-Twilio-Signature": sign_sha256(secret, world.url + "/twilio/sms", form),
    }


def sms(sid: str, body: str, sender: str = "+447700900123", **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": FROM_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        **extra,
    }


@dataclass(frozen=True)
class Case:
    """One kind of input: how it is sent, and what must come of it."""

    label: str
    send: Callable[[World], tuple[str, int]]  # -> (MessageSid, HTTP status of the webhook)
    status: int = 200
    check: Callable[[World, str], None] = lambda _w, _sid: None
    refs: list[str] = field(default_factory=list)


# -- the kinds --------------------------------------------------------------------------------


def picture_only(world: World) -> tuple[str, int]:
    sid = "MM" + "a" * 32
    world.twilio.credentials = (ACCOUNT_SID, AUTH_TOKEN)
    url = world.twilio.add_media(f"{MEDIA}/ME{'a' * 32}", "image/png", PNG)
    form = sms(sid, "", NumMedia="1", MediaUrl0=url, MediaContentType0="image/png")
    return sid, world.post(form).status_code


def check_picture_only(world: World, sid: str) -> None:
    referral = world.referral_for(sid)
    assert referral is not None
    files = world.runtime.store.attachments.for_referral(referral.id)
    assert [(f["filename"], f["content_type"], f["size"]) for f in files] == [
        (f"ME{'a' * 32}.png", "image/png", len(PNG))
    ]
    assert referral.screening["needs_review"]  # a picture is not screened: a person looks
    assert "picture" in referral.screening["review_reason"]
    gets = world.twilio.media_requests
    assert gets and all(r.headers.get("Authorization", "").startswith("Basic ") for r in gets)
    acks = [m for m in world.twilio.messages if m.value("To") == "+447700900123"]
    assert len(acks) == 1 and referral.reference in acks[0].value("Body")
    # shown on the referral page, to download
    add_user(world.runtime.store, ADVOCATE, PASSWORD, "advocate")
    with httpx.Client(timeout=10) as client:
        assert log_in(client, world.url, ADVOCATE).status_code == 303
        page = client.get(f"{world.url}/referrals/{referral.reference}").text
        assert f"ME{'a' * 32}.png" in page
        link = f"/referrals/{referral.reference}/attachments/{files[0]['id']}"
        assert link in page
        assert client.get(world.url + link).content == PNG


def pdf_by_mms(world: World) -> tuple[str, int]:
    sid = "MM" + "b" * 32
    world.twilio.credentials = (ACCOUNT_SID, AUTH_TOKEN)
    pdf = make_pdf([["Referral for Siân Jones", "She says she has taken all her tablets"]])
    url = world.twilio.add_media(f"{MEDIA}/ME{'b' * 32}", "application/pdf", pdf)
    form = sms(sid, "see form", NumMedia="1", MediaUrl0=url, MediaContentType0="application/pdf")
    return sid, world.post(form).status_code


def check_pdf_by_mms(world: World, sid: str) -> None:
    referral = world.referral_for(sid)
    assert referral is not None
    assert "taken all her tablets" in referral.raw_text  # read in the sandbox, then screened
    assert referral.urgency == "emergency"
    files = world.runtime.store.attachments.for_referral(referral.id)
    assert "taken all her tablets" in files[0]["text"]


def media_via_cdn(world: World) -> tuple[str, int]:
    sid = "MM" + "c" * 32
    world.twilio.credentials = (ACCOUNT_SID, AUTH_TOKEN)
    path = f"{MEDIA}/ME{'c' * 32}"
    world.cdn.add_media("/signed/abc", "text/plain", b"My nan needs an advocate")
    world.twilio.redirects[path] = world.cdn.url + "/signed/abc"
    form = sms(
        sid, "", NumMedia="1", MediaUrl0=world.twilio.url + path, MediaContentType0="text/plain"
    )
    return sid, world.post(form).status_code


def check_media_via_cdn(world: World, sid: str) -> None:
    referral = world.referral_for(sid)
    assert referral is not None and "My nan needs an advocate" in referral.raw_text
    (get,) = world.cdn.media_requests
    assert "Authorization" not in get.headers  # the account's credentials stay with Twilio


def media_not_ours(world: World) -> tuple[str, int]:
    sid = "MM" + "d" * 32
    elsewhere = world.cdn.add_media("/2010-04-01/Accounts/ACother/Media/ME1", "image/png", PNG)
    form = sms(
        sid, "photo of the letter", NumMedia="1", MediaUrl0=elsewhere, MediaContentType0="image/png"
    )
    return sid, world.post(form).status_code


def check_media_not_ours(world: World, sid: str) -> None:
    referral = world.referral_for(sid)
    assert referral is not None
    assert world.cdn.media_requests == []  # never fetched
    assert world.runtime.store.attachments.for_referral(referral.id) == []
    stored = world.runtime.store.get_message("sms", sid)
    assert "not fetched" in stored["meta"]["media"][0]["error"]
    assert referral.screening["needs_review"]


def whatsapp(world: World) -> tuple[str, int]:
    sid = "SM" + "e" * 32
    form = sms(
        sid,
        "Hello, I need an advocate for my care review.",
        sender="whatsapp:+447700900458",
        To="whatsapp:" + FROM_NUMBER,
        WaId="447700900458",
        ProfileName="Sam",
        MessageType="text",
    )
    return sid, world.post(form).status_code


def check_whatsapp(world: World, sid: str) -> None:
    referral = world.referral_for(sid)
    assert referral is not None
    assert referral.sender == "whatsapp:+447700900458"
    assert referral.fields["phone"] == "+447700900458"  # the number inside the prefix
    (ack,) = [m for m in world.twilio.messages if m.value("To") == "whatsapp:+447700900458"]
    assert ack.value("From") == "whatsapp:" + FROM_NUMBER  # on the channel it came in on
    outbound = world.runtime.store.outbound_for(referral.id)
    assert [o["status"] for o in outbound if o["kind"] == "ack"] == ["sent"]


def whatsapp_for_someone_else(world: World) -> tuple[str, int]:
    sid = "SM" + "f" * 32
    form = sms(
        sid,
        "Hello, my dad needs an advocate for his care review.",
        sender="whatsapp:+447700900459",
        To="whatsapp:" + FROM_NUMBER,
    )
    return sid, world.post(form).status_code


def check_whatsapp_for_someone_else(world: World, sid: str) -> None:
    referral = world.referral_for(sid)
    assert referral.fields["referrer"]["phone"] == "+447700900459"


def shared_key(world: World) -> tuple[str, int]:
    sid = "SM" + "1a" * 16
    form = sms(sid, "I need an advocate for a meeting about my benefits", "+447700900654")
    return sid, world.post(
        form, shared_key_headers(world, form, SHARED_KEY_ID, SHARED_SECRET)
    ).status_code


def rotated_shared_key(world: World) -> tuple[str, int]:
    sid = "SM" + "1b" * 16
    form = sms(sid, "I need an advocate please", "+447700900655")
    return sid, world.post(
        form, shared_key_headers(world, form, NEXT_KEY_ID, NEXT_SECRET)
    ).status_code


def unknown_shared_key(world: World) -> tuple[str, int]:
    sid = "SM" + "1c" * 16
    form = sms(sid, "I need an advocate please", "+447700900656")
    headers = shared_key_headers(world, form, "webhooks_sharedkey_9999", SHARED_SECRET)
    return sid, world.post(form, headers).status_code


def wrong_shared_secret(world: World) -> tuple[str, int]:
    sid = "SM" + "1d" * 16
    form = sms(sid, "I need an advocate please", "+447700900657")
    return sid, world.post(
        form, shared_key_headers(world, form, SHARED_KEY_ID, "guess")
    ).status_code


def auth_token_under_shared_key_header(world: World) -> tuple[str, int]:
    """The classic signature with a settings header naming a key: checked with the key, refused."""
    sid = "SM" + "1e" * 16
    form = sms(sid, "I need an advocate please", "+447700900658")
    headers = shared_key_headers(world, form, SHARED_KEY_ID, AUTH_TOKEN)
    return sid, world.post(form, headers).status_code


def check_referral(world: World, sid: str) -> None:
    assert world.referral_for(sid) is not None


def check_nothing(world: World, sid: str) -> None:
    assert world.referral_for(sid) is None


def accented_name(world: World) -> tuple[str, int]:
    sid = "SM" + "2a" * 16
    body = "Referral for Siân Jones, she has dementia and needs an advocate."
    return sid, world.post(sms(sid, body, "+447700900811")).status_code


def check_accented_name(world: World, sid: str) -> None:
    referral = world.referral_for(sid)
    assert referral.fields["name"] == "Siân Jones"


CASES = [
    Case(
        "MMS picture only: fetched, stored, shown, flagged", picture_only, check=check_picture_only
    ),
    Case("MMS PDF: read in the sandbox and screened", pdf_by_mms, check=check_pdf_by_mms),
    Case("media redirected to Twilio's CDN", media_via_cdn, check=check_media_via_cdn),
    Case("media URL not of our account: not fetched", media_not_ours, check=check_media_not_ours),
    Case("WhatsApp: reply from the prefixed sender", whatsapp, check=check_whatsapp),
    Case(
        "WhatsApp referrer's phone",
        whatsapp_for_someone_else,
        check=check_whatsapp_for_someone_else,
    ),
    Case("shared-key HMAC-SHA256 signature", shared_key, check=check_referral),
    Case("shared key being rotated in", rotated_shared_key, check=check_referral),
    Case("unknown shared key id", unknown_shared_key, status=403, check=check_nothing),
    Case("wrong shared secret", wrong_shared_secret, status=403, check=check_nothing),
    Case(
        "auth token under a shared-key header",
        auth_token_under_shared_key_header,
        status=403,
        check=check_nothing,
    ),
    Case("accented name", accented_name, check=check_accented_name),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_real_world_sms(
    case: Case,
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    cdn: TwilioStandIn,
) -> None:
    world = World(runtime, live_url, http, twilio, cdn)
    sid, status = case.send(world)
    assert status == case.status
    world.work()
    case.check(world, sid)
