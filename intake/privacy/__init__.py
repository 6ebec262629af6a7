"""Data protection by design: erasure, the audit chain, retention, subject access.

UK GDPR Articles 5(1)(e) (storage limitation), 15 (right of access), 17 (right to erasure) and
32 (security of processing). The SQL is in `intake.store.privacy`; this package decides what a
request means (which person, which referrals) and carries it out across the store, Redis and
the case systems. `intake privacy ...` (intake/cli.py) and the dashboard's privacy page call it.
"""
