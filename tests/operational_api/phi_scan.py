"""Finds clients' names and dates of birth in text the platform writes about itself (logs, exception messages,
Dagster events, dbt artefacts, audit files): none may hold PHI.

Names are matched as whole two-word sequences ("First Last", "Last, First" and guardian / emergency contact
full names), case-insensitively, so a common first name inside ordinary text is not a hit. Dates of birth are
matched as ISO and US dates; births from 2020 on are left out, because such dates collide with the pipeline's own
dates (partition starts, as-of dates) and a young child's DOB alone is not what a log would leak.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

_WORD = re.compile(r"[a-z][a-z'\-]*")
_ISO = re.compile(rb"\d{4}-\d{2}-\d{2}")
_US = re.compile(rb"\d{2}/\d{2}/\d{4}")
DOB_BEFORE = dt.date(2020, 1, 1)


@dataclass(frozen=True)
class PhiNeedles:
    names: frozenset[tuple[str, str]]  # lower-case word pairs
    dobs: frozenset[bytes]  # ISO and US renderings

    @classmethod
    def build(cls, people: Iterable[tuple[str, str]], extra_names: Iterable[str], dobs: Iterable[dt.date]):
        names: set[tuple[str, str]] = set()
        for first, last in people:
            f, la = _words(first), _words(last)
            if f and la:
                names.add((f[-1], la[0]))  # "First Last"
                names.add((la[-1], f[0]))  # "Last, First" once the comma is gone
        for full in extra_names:
            words = _words(full)
            names.update(zip(words, words[1:], strict=False))
        rendered = set()
        for born in dobs:
            if born and born < DOB_BEFORE:
                rendered.add(born.isoformat().encode())
                rendered.add(born.strftime("%m/%d/%Y").encode())
        return cls(frozenset(names), frozenset(rendered))

    @classmethod
    def from_store(cls, engine: Engine) -> PhiNeedles:
        with engine.connect() as conn:
            clients = conn.execute(
                text("select first_name, last_name, date_of_birth, emergency_contact_name from clients")
            ).all()
            guardians = conn.execute(text("select full_name from guardians")).scalars().all()
        dobs = [
            c.date_of_birth if isinstance(c.date_of_birth, dt.date) else _date(c.date_of_birth)
            for c in clients
        ]
        extra = [c.emergency_contact_name for c in clients if c.emergency_contact_name] + list(guardians)
        return cls.build([(c.first_name, c.last_name) for c in clients], extra, dobs)

    def find(self, data: bytes) -> list[str]:
        """What of the needles `data` holds (as text for the failure message)."""
        hits = [d.decode() for d in self.dobs.intersection(_ISO.findall(data) + _US.findall(data))]
        words = _words(data.decode("utf-8", errors="replace"))
        hits += sorted({" ".join(p) for p in zip(words, words[1:], strict=False) if p in self.names})
        return hits


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _words(value: str) -> list[str]:
    return _WORD.findall(value.lower())


def scan_tree(needles: PhiNeedles, root: Path, skip: Iterable[str] = ()) -> dict[str, list[str]]:
    """Every file under `root` (but the names in `skip`) that holds a needle, with what it holds."""
    skipped = set(skip)
    found = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or skipped & set(path.relative_to(root).parts):
            continue
        hits = needles.find(path.read_bytes())
        if hits:
            found[str(path.relative_to(root))] = hits[:5]
    return found
