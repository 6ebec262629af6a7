"""Voicemail through Twilio Voice: the webhooks a call passes through and their TwiML
(`webhooks`, `twiml`), the worker side that makes one message of a call's callbacks (`calls`),
the missed-call list (`api`), and the channel the core sees (`channel.VoiceChannel`)."""
