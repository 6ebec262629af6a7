"""Whether an email can be trusted to come from the address in its From header.

SMTP lets anyone who can reach a mail server name any sender, in the envelope (`MAIL FROM`) and
in the headers (`From`, `Reply-To`). intake answers mail (acknowledgements) and lets mail join a
person's referral only on a sender it can trust; this module says which (pure: headers in,
`Trust` out). The rules, in order:

1. **Exactly one From address**, else untrusted (two From headers, or a From with two addresses,
   are how a forger hides one address behind another; RFC 5322 section 3.6.2 also requires a
   Sender header for a multi-address From).
2. **What an MTA we trust checked.** When the message came from one of `EMAIL_RELAY_HOSTS` (the
   upstream MTA that receives the organisation's mail and relays it to intake) and that MTA wrote
   an `Authentication-Results` header (RFC 8601) with our `EMAIL_AUTHSERV_ID`, the topmost such
   header decides: `dmarc=pass` trusts the From address (DMARC checks that SPF or DKIM passed for
   the From domain); `dmarc=fail`, or no DMARC result and SPF `fail`/`softfail`, refuses it; a
   DKIM `pass` whose `header.d` is the From domain trusts it; an SPF `pass` whose `smtp.mailfrom`
   is the From domain trusts it when the envelope sender is the From address. An
   `Authentication-Results` header from anyone else is ignored (RFC 8601 section 5: only the
   receiving domain's own results mean anything, and a border MTA removes forged ones).
3. **Otherwise: the From address equals the envelope sender** (case-insensitive). This stops the
   forgeries that cost nothing: a `Reply-To` or `From` pointing at someone other than the
   address the mail was sent as, mail from lists and forwarders (their envelope sender is their
   own), bounce addresses. It does not stop a forger who sets both to the same address; only
   rule 2 does that, which is why a deployment puts an MTA that checks SPF, DKIM and DMARC in
   front of intake (README "Security").
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message

import authres

log = logging.getLogger(__name__)

# Keys of an email message's meta (`receive.inbound_message`).
VERIFIED = "sender_verified"
REASON = "sender_trust"
HEADER_BYTES = 256 * 1024  # headers are read from at most this much of the raw mail
MAX_RESULTS_CHARS = 4096  # one Authentication-Results header; longer ones are not ours


@dataclass(frozen=True)
class Trust:
    """`verified`: the From address can be trusted; `reason`: why, for the stored meta and logs
    (never message text)."""

    verified: bool
    reason: str


def headers_of(raw: bytes) -> Message:
    """The header block of raw mail (the body is not parsed)."""
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    return parser.parsebytes(raw[:HEADER_BYTES])


def _address(value: str) -> str:
    return email.utils.parseaddr(value)[1].strip().strip("<>").lower()


def _domain(address: str) -> str:
    return address.rpartition("@")[2].rstrip(".").lower()


def from_addresses(headers: Message) -> list[str]:
    """Every address in every From header."""
    values = [str(v) for v in headers.get_all("From") or []]
    return [a.strip().lower() for _n, a in email.utils.getaddresses(values) if a.strip()]


def relay_results(headers: Message, authserv_id: str) -> authres.AuthenticationResultsHeader | None:
    """The topmost Authentication-Results header our own MTA (`authserv_id`) wrote, parsed."""
    for value in headers.get_all("Authentication-Results") or []:
        text = " ".join(str(value).split())
        if len(text) > MAX_RESULTS_CHARS:
            continue
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(text)
        except authres.AuthResError:
            continue
        if str(parsed.authserv_id).lower() == authserv_id.lower():
            return parsed
    return None


Results = dict[str, list[tuple[str, dict[str, str]]]]


def _results(header: authres.AuthenticationResultsHeader) -> Results:
    """method -> [(result, {ptype.property: value})] of one parsed header."""
    out: Results = {}
    for result in header.results:
        props = {
            f"{p.type}.{p.name}".lower(): str(p.value or "").strip().lower()
            for p in result.properties
        }
        out.setdefault(str(result.method).lower(), []).append((str(result.result).lower(), props))
    return out


def _by_relay(
    header: authres.AuthenticationResultsHeader, sender: str, envelope: str
) -> Trust | None:
    """What our MTA's results say about `sender`, or None when they say nothing either way."""
    domain = _domain(sender)
    found = _results(header)
    dmarc = [result for result, _p in found.get("dmarc", [])]
    if "pass" in dmarc:
        return Trust(True, "dmarc=pass")
    if "fail" in dmarc:
        return Trust(False, "dmarc=fail")
    for result, props in found.get("dkim", []):
        if result == "pass" and props.get("header.d", "").rstrip(".") == domain:
            return Trust(True, "dkim=pass for the From domain")
    for result, props in found.get("spf", []):
        mailfrom = props.get("smtp.mailfrom", "")
        if result == "pass" and _domain(mailfrom) == domain and envelope == sender:
            return Trust(True, "spf=pass for the From address")
        if result in ("fail", "softfail"):
            return Trust(False, f"spf={result}")
    return None


_IP_LITERAL = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{3,45})\]")


def client_ip(headers: Message, peer: str, relay_hosts: Sequence[str] = ()) -> str:
    """The address of the machine that handed the mail to us, or to the relay we trust.

    Mail straight from the internet: the SMTP peer. Mail from one of `relay_hosts`: the address
    that relay recorded in the topmost Received header (RFC 5321 section 4.4, the TCP-info
    `[address]` literal), since the peer is then always the relay; "" when it recorded none.
    """
    if peer not in relay_hosts:
        return peer
    received = headers.get_all("Received") or []
    if not received:
        return ""
    found = _IP_LITERAL.search(str(received[0])[:MAX_RESULTS_CHARS])
    return found.group(1) if found else ""


def assess(
    headers: Message,
    *,
    envelope_from: str,
    peer: str,
    relay_hosts: Sequence[str] = (),
    authserv_id: str = "",
) -> Trust:
    """Whether the From address of mail with these headers can be trusted (module docstring)."""
    senders = from_addresses(headers)
    if not senders:
        return Trust(False, "no From address")
    if len(set(senders)) > 1:
        return Trust(False, "more than one From address")
    sender = senders[0]
    envelope = _address(envelope_from)
    if authserv_id and peer in relay_hosts:
        header = relay_results(headers, authserv_id)
        if header is not None:
            judged = _by_relay(header, sender, envelope)
            if judged is not None:
                return judged
    if envelope and envelope == sender:
        return Trust(True, "From matches the envelope sender")
    if not envelope:
        return Trust(False, "null envelope sender")
    return Trust(False, "From differs from the envelope sender")
