"""Who sent this, a person or a machine? Decides referral creation and acknowledgement (RFC 3834).

Answering automatic mail causes mail loops and acknowledging mailing lists spams their members, so
the classifier is deliberately conservative about ``may_acknowledge``. It is generous about
``creates_referral``: only out-of-office replies and bounces are kept out of the referral queue,
because those are replies to *our* mail. Bulk mail (lists, newsletters, no-reply systems, web-form
notifications marked ``Auto-Submitted: auto-generated``) still becomes a referral: a ward team
writing through a Google Group or a referral web form looks exactly like this, and a duty advocate
closing a newsletter costs far less than a lost referral. The worker may rank bulk referrals low.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from channels.email.parse import ParsedEmail, patterns

KINDS = ("person", "auto_reply", "bounce", "bulk", "spam")
SPAM_REVIEW = "marked as spam by the receiving mail system: not acknowledged; read it first"
_NULL_PATHS = {"", "<>"}
_FALSE_VALUES = {"", "no", "false", "0", "off", "none"}


@dataclass(frozen=True)
class Classification:
    """kind: person | auto_reply | bounce | bulk; reason lists the signals that decided it."""

    kind: str
    may_acknowledge: bool
    creates_referral: bool
    reason: str


def _localpart(address: str | None) -> str:
    if not address:
        return ""
    return address.strip().strip("<>").lower().rpartition("@")[0] or address.strip().lower()


def _header(parsed: ParsedEmail, name: str) -> str | None:
    value = parsed.headers.get(name)
    return None if value is None else value.strip()


def _is_null_path(value: str | None) -> bool:
    return value is not None and value.strip() in _NULL_PATHS


def _report_type(parsed: ParsedEmail) -> str | None:
    content_type = (parsed.headers.get("Content-Type") or "").lower()
    if not content_type.startswith("multipart/report"):
        return None
    match = re.search(r"report-type\s*=\s*\"?([a-z0-9_-]+)", content_type)
    return match.group(1) if match else "unknown"


def _subject_matches(subject: str, section: str) -> str | None:
    head = subject.strip().lstrip("[").lower()
    for pattern in patterns()[section]["subject_patterns"]:
        if re.match(pattern, head, re.I):
            return pattern
    return None


def _bounce_signals(parsed: ParsedEmail, senders: list[str], null_path: bool) -> list[str]:
    rules = patterns()["bounce"]
    signals: list[str] = []
    report = _report_type(parsed)
    if report == "delivery-status":
        signals.append("multipart/report; report-type=delivery-status")
    for sender in senders:
        local = _localpart(sender)
        if local in rules["sender_localparts"] or local.startswith(
            tuple(rules["sender_localpart_prefixes"])
        ):
            signals.append(f"sender {local}")
            break
    if "X-Failed-Recipients" in parsed.headers:
        signals.append("X-Failed-Recipients header")
    if null_path and _subject_matches(parsed.subject, "bounce"):
        signals.append("null return path and bounce subject")
    return signals


def _auto_reply_signals(parsed: ParsedEmail) -> list[str]:
    rules = patterns()["autoreply"]
    signals: list[str] = []
    auto_submitted = (_header(parsed, "Auto-Submitted") or "").lower()
    if auto_submitted.startswith("auto-replied"):
        signals.append("Auto-Submitted: auto-replied")
    for name, value in parsed.headers.items():
        if (
            name.lower() in rules["autoreply_headers"]
            and value.strip().lower() not in _FALSE_VALUES
        ):
            signals.append(f"{name} header")
    precedence = (_header(parsed, "Precedence") or "").lower()
    if precedence in rules["precedence_autoreply"]:
        signals.append(f"Precedence: {precedence}")
    if _report_type(parsed) == "disposition-notification":
        signals.append("read receipt (disposition-notification)")
    matched = _subject_matches(parsed.subject, "autoreply")
    if matched:
        signals.append(f"subject matches {matched!r}")
    present = {name.lower() for name in parsed.headers}
    rule_reply = rules["exchange_rule_reply_headers"]
    if all(name in present for name in rule_reply):
        signals.append("Exchange inbox-rule reply (X-Auto-Response-Suppress, Inbox-Rules-Loop)")
    return signals


def _spam_signals(parsed: ParsedEmail) -> list[str]:
    rules = patterns()["spam"]
    signals: list[str] = []
    for name, value in parsed.headers.items():
        lowered = name.lower()
        first = value.strip().lower().split(",")[0].split()[:1]
        if lowered in rules["flag_headers"] and first == ["yes"]:
            signals.append(f"{name}: YES")
        elif lowered in rules["status_headers"] and first == ["yes"]:
            signals.append(f"{name}: Yes")
    return signals


def _bulk_signals(parsed: ParsedEmail, senders: list[str]) -> list[str]:
    rules = patterns()["bulk"]
    signals: list[str] = []
    auto_submitted = (_header(parsed, "Auto-Submitted") or "").lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() not in ("no", "auto-replied"):
        signals.append(f"Auto-Submitted: {auto_submitted}")
    for name in ("Precedence", "X-Precedence"):
        value = (_header(parsed, name) or "").lower()
        if value in rules["precedence"]:
            signals.append(f"{name}: {value}")
    list_headers = sorted(name for name in parsed.headers if name.lower().startswith("list-"))
    if list_headers:
        signals.append(f"{', '.join(list_headers)} header")
    for sender in senders:
        local = _localpart(sender)
        if local in rules["noreply_localparts"]:
            signals.append(f"no-reply sender {local}")
        elif local.startswith(tuple(rules["list_localpart_prefixes"])) or local.endswith(
            tuple(rules["list_localpart_suffixes"])
        ):
            signals.append(f"list machinery sender {local}")
    return list(dict.fromkeys(signals))


def classify(parsed: ParsedEmail, envelope_from: str | None) -> Classification:
    """Classify a parsed message. ``envelope_from`` is MAIL FROM: "" or "<>" is the null path.

    Order matters: bounce signals beat auto-reply signals (a DSN may also carry Auto-Submitted),
    auto-reply beats bulk, and a bare null return path with nothing else is treated as a bounce,
    as mail servers send nothing else with it except auto-replies that say so in their headers.
    """
    return_path = _header(parsed, "Return-Path")
    null_path = _is_null_path(envelope_from) or _is_null_path(return_path)
    senders = [
        address
        for address in (envelope_from, return_path, parsed.from_address)
        if address and not _is_null_path(address)
    ]
    bounce = _bounce_signals(parsed, senders, null_path)
    auto = _auto_reply_signals(parsed)
    if bounce:
        return Classification("bounce", False, False, "bounce: " + "; ".join(bounce))
    if auto:
        extra = "; null return path" if null_path else ""
        return Classification("auto_reply", False, False, "auto_reply: " + "; ".join(auto) + extra)
    if null_path:
        return Classification("bounce", False, False, "bounce: null return path (<>)")
    spam = _spam_signals(parsed)
    if spam:
        reason = "spam (referral created, flagged, not acknowledged): " + "; ".join(spam)
        return Classification("spam", False, True, reason)
    bulk = _bulk_signals(parsed, senders)
    if bulk:
        return Classification(
            "bulk", False, True, "bulk (referral created, not acknowledged): " + "; ".join(bulk)
        )
    if not (parsed.reply_to or parsed.from_address):
        return Classification("person", False, True, "person: no address to acknowledge")
    return Classification("person", True, True, "person: no automatic-mail signals")
