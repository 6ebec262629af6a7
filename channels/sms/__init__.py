"""SMS through Twilio: the door (`webhook`), the conversation that asks for what is missing
(`conversation`), STOP/START/HELP (`optout`, `keywords.toml`), and the channel the core sees
(`channel.SmsChannel`)."""
