"""A local SMTP server on loopback (aiosmtpd) that keeps every message it receives as a .eml file.

The embedded demo needs no mail provider: `mentalspace serve` starts one when SMTP_URL is unset, and the tests
deliver to a real one. Each accepted message lands as `<folder>/<n>-<recipient>.eml` (written to a temporary
name, then renamed, so a reader never sees half a file). `refuse` and `reject` make the server answer 550 to
those recipients at RCPT or 554 to their message at DATA, as a provider does for a dead mailbox or a refused
message.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import signal
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _Keeper:
    def __init__(self, folder: Path, refuse: set[str], reject: set[str]) -> None:
        self.folder = folder
        self.refuse = refuse
        self.reject = reject
        self._lock = threading.Lock()
        self._numbers = itertools.count(len(list(folder.glob("*.eml"))) + 1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if any(r.lower() in self.reject for r in envelope.rcpt_tos):
            return "554 5.6.0 message refused"
        content = envelope.original_content or envelope.content
        for rcpt in envelope.rcpt_tos:
            with self._lock:
                number = next(self._numbers)
            safe = re.sub(r"[^A-Za-z0-9@._-]", "_", rcpt)
            target = self.folder / f"{number:06d}-{safe}.eml"
            partial = target.with_suffix(".part")
            partial.write_bytes(content)
            partial.rename(target)
        return "250 Message accepted for delivery"


class LoopbackSmtp:
    """The server: `start()` / `stop()`, or use it as a context manager; `url` is what SMTP_URL should say."""

    def __init__(
        self,
        folder: Path,
        port: int | None = None,
        refuse: tuple[str, ...] = (),
        reject: tuple[str, ...] = (),
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self._refuse = {a.lower() for a in refuse}
        self._reject = {a.lower() for a in reject}
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def start(self) -> LoopbackSmtp:
        handler = _Keeper(self.folder, self._refuse, self._reject)
        self._controller = Controller(handler, hostname=HOST, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> LoopbackSmtp:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def messages(self) -> list[EmailMessage]:
        """Every message received so far, oldest first."""
        return [
            message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for p in sorted(self.folder.glob("*.eml"))
        ]


def wait_for_stop() -> None:
    """Block until SIGINT or SIGTERM arrives. Both are taken explicitly and unblocked: a process inherits an
    ignored or blocked signal from whoever started it, and `serve` (or a test) could then not stop its servers."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    while not stop.wait(0.5):  # a timed wait, so the main thread runs the handlers
        pass


def serve_forever(folder: Path, port: int) -> None:
    """Run the server in this process until stopped (`python -m operational_api.notifications.loopback`)."""
    server = LoopbackSmtp(folder, port).start()
    try:
        wait_for_stop()
    finally:
        server.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="local SMTP server keeping messages as .eml files")
    parser.add_argument("--folder", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(args.folder, args.port)
