"""Email channel: turn raw RFC 5322 messages into structured, screenable text.

Kept import-free so that importing the package (e.g. from the SMTP server) does not pull in
pypdf, python-docx or html2text until a message is actually parsed.
"""
