"""The Starlette app: Twilio webhooks, the JSON API, health, and (later) the dashboard."""
