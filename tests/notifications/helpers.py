"""Reading what the loopback server received, the marts the figures must equal, and the PHI scan."""

from __future__ import annotations

from email.message import EmailMessage

import polars as pl

from orchestration.lib.environment import current_environment
from orchestration.lib.warehouse import Warehouse
from tests.notifications.practice import CLIENTS


def mart(sql: str, params: list | None = None) -> pl.DataFrame:
    return Warehouse(current_environment()).query(sql, params)


def plain(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def by_recipient(messages: list[EmailMessage]) -> dict[str, list[EmailMessage]]:
    out: dict[str, list[EmailMessage]] = {}
    for m in messages:
        out.setdefault(m["To"].addresses[0].addr_spec, []).append(m)
    return out


def forbidden_strings() -> list[str]:
    """Every synthetic client's names and date of birth, in the ways a message could write them."""
    out = ["private matter"]  # the notes' text
    for first, last, dob, _, _ in CLIENTS.values():
        out += [
            first,
            last,
            f"{first} {last}",
            dob.isoformat(),
            f"{dob:%m/%d/%Y}",
            f"{dob.month}/{dob.day}/{dob.year}",
        ]
        out += [f"{dob:%d %b %Y}", f"{dob:%B} {dob.day}, {dob.year}", f"{dob.day} {dob:%b} {dob.year}"]
    return out


def assert_no_phi(messages: list[EmailMessage]) -> None:
    assert messages, "no message to scan"
    for m in messages:
        whole = "\n".join([m["Subject"], plain(m), html(m)])
        found = [s for s in forbidden_strings() if s.lower() in whole.lower()]
        assert not found, f"message '{m['Subject']}' to {m['To']} contains {found}"
