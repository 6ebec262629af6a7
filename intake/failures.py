"""How any provider can fail: one family for channels (Twilio, the mail relay) and case systems.

Every provider's own errors are mapped into these by the code that talks to it (each channel
folder, each forwarding target), so the core decides what to do from the type alone:

- `Rejected`: the provider answered and said no; retrying the same request would get the same
  answer. Recorded, not retried. `OptedOut` is the refusal that means the person asked for no
  more messages (Twilio error 21610).
- `Unreachable`: no usable answer (connection refused, timeout before sending, 408, 429, 5xx, an
  SMTP 4xx). Retried later.
- `Uncertain`: the request may have reached the provider but no answer came (a read timeout).
  Sending again could send twice, so it is recorded and never resent.
"""

from __future__ import annotations


class ProviderError(Exception):
    """A provider failed; `status_code` is its HTTP or SMTP status when it gave one."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class Rejected(ProviderError):
    """The provider refused: not retried, recorded as rejected."""


class OptedOut(Rejected):
    """The recipient has opted out with the provider itself (Twilio 21610)."""


class Unreachable(ProviderError):
    """No usable answer: try again later."""


class Uncertain(ProviderError):
    """The request may have been delivered, without an answer: never resend."""


def for_http_status(status_code: int, detail: str) -> ProviderError:
    """The failure a non-2xx HTTP answer means: 408, 429 and 5xx may pass, other 4xx will not.

    Source: RFC 9110 sections 15.5 and 15.6 (408 Request Timeout and 429 Too Many Requests invite
    a retry; 5xx is the server's fault).
    """
    if status_code in (408, 429) or status_code >= 500:
        return Unreachable(detail, status_code)
    return Rejected(detail, status_code)
