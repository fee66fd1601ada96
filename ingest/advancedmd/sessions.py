"""The AdvancedMD session (usercontext token) shared by every process of one deployment, per office key.

AdvancedMD's certification asks that the token be cached until the end of the day and names logging in on
every call as a failure cause. Each Dagster run is its own process and each asset step its own client, so a
token kept in memory would mean a login per step; the session lives here instead, beside the rate limiter's
shared state: a file under ``var/advancedmd/sessions`` (mode 0600) on the embedded path, a row of the store's
``advancedmd_sessions`` on PostgreSQL (:mod:`ingest.advancedmd.sessions_sql`).

A store holds at most one session per office key, with the account it belongs to (a digest of login URL, user
and app name, so a token is never offered to another account or to a sandbox). Processes that find no usable
session take the store's lock (:meth:`SessionStore.locked`), look again, and only then log in, so a crowd of
runs starting together makes one login. A session-timeout answer discards the stored session only if it still
holds the token that failed (:meth:`SessionStore.discard`): another process may already have replaced it.

The token is a secret: it is written nowhere else, and nothing here logs it or puts it in an exception.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.advancedmd.client import Session

# How often a process waiting for another's login looks at the lock again (real seconds).
LOCK_POLL_SECONDS = 0.05


def account_digest(login_url: str, username: str, app_name: str) -> str:
    """Which account a session belongs to, without writing the user name down."""
    raw = "\0".join((login_url.rstrip("/").lower(), username.upper(), app_name.upper()))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class StoredSession:
    """A session as the store keeps it: the client's :class:`Session` and the account it belongs to."""

    account: str
    session: Session

    def to_json(self) -> str:
        s = self.session
        return json.dumps(
            {
                "account": self.account,
                "token": s.token,
                "webserver": s.webserver,
                "issued_at": s.issued_at.isoformat(),
                "expires_at": s.expires_at.isoformat(),
                "refresh_at": s.refresh_at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> StoredSession | None:
        from ingest.advancedmd.client import Session

        try:
            d = json.loads(text)
            session = Session(
                d["token"],
                d["webserver"],
                datetime.fromisoformat(d["issued_at"]),
                datetime.fromisoformat(d["expires_at"]),
                datetime.fromisoformat(d["refresh_at"]),
            )
            return cls(str(d["account"]), session)
        except (ValueError, TypeError, KeyError):
            return None  # torn or hand-edited: log in again rather than stop syncing


@dataclass
class LockedSession:
    """What :meth:`SessionStore.locked` yields: the stored session read under the lock, and the one to write
    back (set ``replacement``) when the lock is let go. ``acquired`` is False when the wait was given up: the
    view is then read without the lock and nothing is written back (the holder is about to write)."""

    current: StoredSession | None
    acquired: bool = True
    replacement: StoredSession | None = field(default=None)


class SessionStore(ABC):
    """Shared session state per office key (see the module docstring)."""

    @abstractmethod
    def load(self, office_key: str) -> StoredSession | None:
        """The stored session, if any (no lock taken)."""

    @abstractmethod
    def discard(self, office_key: str, token: str) -> bool:
        """Forget the stored session if it holds ``token``; whether it did. Never waits: while another process
        holds the lock it is logging in and replaces the session anyway."""

    @abstractmethod
    @contextmanager
    def locked(self, office_key: str, give_up: Callable[[], bool]) -> Iterator[LockedSession]:
        """Hold the office key's lock (waiting while ``give_up()`` is False; on giving up, yield an unlocked
        view with ``acquired`` False) and write ``replacement`` back when done."""


def _check_office_key(office_key: str) -> None:
    if not office_key.isdigit():
        raise ValueError("office keys are digits")


class FileSessionStore(SessionStore):
    """``<directory>/<office key>.json`` (mode 0600, replaced atomically) and an ``flock`` on
    ``<office key>.lock`` (released by the kernel if the process dies): every process on this machine."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()  # flock is per open file description: threads queue here first

    def _path(self, office_key: str) -> Path:
        _check_office_key(office_key)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.directory / f"{office_key}.json"

    def _read(self, path: Path) -> StoredSession | None:
        try:
            return StoredSession.from_json(path.read_text())
        except FileNotFoundError:
            return None

    def _write(self, path: Path, stored: StoredSession | None) -> None:
        if stored is None:
            path.unlink(missing_ok=True)
            return
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(stored.to_json())
        os.replace(tmp, path)

    @contextmanager
    def _flock(self, office_key: str, give_up: Callable[[], bool] | None) -> Iterator[bool]:
        self._path(office_key)
        fd = os.open(self.directory / f"{office_key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if give_up is not None else 0))
                    break
                except BlockingIOError:
                    if give_up is not None and give_up():
                        yield False
                        return
                    time.sleep(LOCK_POLL_SECONDS)
            yield True
        finally:
            os.close(fd)

    def load(self, office_key: str) -> StoredSession | None:
        return self._read(self._path(office_key))

    def discard(self, office_key: str, token: str) -> bool:
        path = self._path(office_key)
        with self._lock, self._flock(office_key, lambda: True) as acquired:
            stored = self._read(path) if acquired else None
            if stored is None or stored.session.token != token:
                return False
            self._write(path, None)
            return True

    @contextmanager
    def locked(self, office_key: str, give_up: Callable[[], bool]) -> Iterator[LockedSession]:
        path = self._path(office_key)
        with self._lock, self._flock(office_key, give_up) as acquired:
            view = LockedSession(self._read(path), acquired)
            yield view
            if acquired and view.replacement is not None:
                self._write(path, view.replacement)


__all__ = [
    "FileSessionStore",
    "LockedSession",
    "SessionStore",
    "StoredSession",
    "account_digest",
]
