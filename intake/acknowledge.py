"""Telling the sender they were heard, unless telling them could hurt them.

Each channel plans its own acknowledgement (`Plan` or `Skip`, a pure decision: the channel
knows whether its sender can be written back to and how). `deliver` is the one way a plan is
sent: through the per-sender rate limit, then `intake.outbound.send`, at most once per dedupe key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from intake import languages, outbound, precheck, ratelimit
from intake.config import Settings
from intake.languages import Choice, Rendered
from intake.models import InboundMessage, Referral
from intake.templating import render_text

if TYPE_CHECKING:
    from intake.runtime import Runtime


@dataclass(frozen=True)
class Plan:
    """Send `body` to `to` on `channel`, once per `dedupe_key`; `kind` is ack or question."""

    channel: str
    to: str
    body: str
    dedupe_key: str
    kind: str = "ack"


@dataclass(frozen=True)
class Skip:
    reason: str


def ack_dedupe_key(referral: Referral, to: str) -> str:
    """One acknowledgement per referral and recipient, however many messages they send."""
    return f"ack:{referral.reference}:{to}"


def choice_for(settings: Settings, referral: Referral) -> Choice:
    """The language(s) to write to this referral's sender in (`intake.languages.choose`)."""
    return languages.choose(
        settings.templates_dir,
        preference=referral.language_preference,
        detected=referral.language,
        fields=referral.fields,
        welsh_standards=settings.welsh_language_standards,
    )


def localized(
    settings: Settings,
    template: str,
    referral: Referral,
    *,
    choice: Choice | None = None,
    single: bool = False,
    **extra: Any,
) -> Rendered:
    """A template (e.g. "ack/sms.txt", "questions/need.txt") in the sender's language(s), with
    what every one of them may say; `single`: the first language only (a subject line)."""
    choice = choice or choice_for(settings, referral)
    context = {
        "reference": referral.reference,
        "org_name": settings.org_name,
        "crisis_line": settings.crisis_line,
        **extra,
    }
    how = languages.render_single if single else languages.render
    return how(settings.templates_dir, template, choice, **context)


def render(settings: Settings, template: str, referral: Referral, **extra: Any) -> str:
    """An acknowledgement template in the sender's language(s) (see `localized`)."""
    return localized(settings, template, referral, **extra).text


def ask_language(settings: Settings, referral: Referral, choice: Choice) -> str | None:
    """The "Welsh or English?" question for a first acknowledgement, when the choice asks it
    (Welsh Language Standards, no preference recorded), in the choice's languages; else None."""
    if not choice.ask:
        return None
    return localized(settings, languages.ASK_TEMPLATE, referral, choice=choice).text


def next_steps(settings: Settings, referral: Referral) -> str:
    """What happens next when the pre-check finds the person may be outside a service's criteria
    (`intake.precheck`, `templates/ack/next_steps.txt`); "" when it finds nothing."""
    found = precheck.findings(referral.fields, precheck.load(settings.eligibility_rules))
    if not found:
        return ""
    return render_text(
        settings.templates_dir, "ack/next_steps.txt", next_steps=[f.next for f in found]
    ).strip()


def deliver(
    runtime: Runtime, referral: Referral, message: InboundMessage, decision: Plan | Skip
) -> str:
    """Send a planned acknowledgement through the rate limit, at most once; the outcome."""
    if isinstance(decision, Skip):
        return f"skipped: {decision.reason}"
    if not ratelimit.admit_acknowledgement(runtime, referral, message, decision.dedupe_key):
        return "skipped: rate limited"
    outcome = outbound.send(
        runtime,
        channel=decision.channel,
        to=decision.to,
        body=decision.body,
        kind=decision.kind,
        referral_id=referral.id,
        dedupe_key=decision.dedupe_key,
        # with the `sent` outcome, in one transaction
        audit_sent="referral.acknowledged" if decision.kind == "ack" else None,
    )
    return outcome.status
