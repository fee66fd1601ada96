"""Notifications (issue 15): messages rendered from the marts and the store's alerts, kept in an outbox in the
operational store and delivered over SMTP. Plain Python; Dagster only schedules it (orchestration/defs/notifications).

- kinds.py      the message kinds, which are critical (no switch) and each user's preferences
- outbox.py     enqueue (one row per kind, recipient, period) and deliver (retries with backoff, 5xx recorded)
- smtp.py       SMTP_URL -> connection settings (credentials never logged)
- loopback.py   the demo's and tests' local SMTP server (aiosmtpd), keeping each message as a .eml file
- content.py    what each message says, read from the warehouse marts and the store's alerts
- render.py     Jinja2 templates -> HTML + plain-text MIME, and the inline trend chart (vl-convert)
- service.py    one call per kind: render what is missing for a period, then deliver
"""
