"""`intake demo`: try the whole service on a laptop, with no Twilio account and no mail server.

`run` starts intake's own processes on a data folder of their own, beside two local stand-ins:
`twilio` (an HTTP server that answers Twilio's REST API and records what would have been texted)
and `mailcatcher` (an SMTP server that keeps what would have been emailed). `samples` sends
referrals through the real doors: signed SMS webhooks, an email with an attachment over SMTP, a
voicemail's callbacks. Nothing here is used by the service itself.
"""
