"""A local SMS provider on loopback that answers like Twilio's Messages API, for the demo and the tests.

- `POST /2010-04-01/Accounts/{sid}/Messages.json` (form: To, From, Body; basic auth with the account's sid and
  token) answers 201 with `{"sid": "SM...", "status": "queued", ...}`; a wrong account or token 401 (code 20003),
  a To that is not E.164 400 (code 21211), an empty body 400 (code 21602). A repeated `Idempotency-Key` returns
  the first message again instead of sending a second.
- `GET .../Messages.json` lists every accepted message, newest first (the provider's message log).
- Faults are injected deterministically: `fail_next(503, times=2)` answers the next two sends with that status
  (429 carries `Retry-After: 0`), `refuse(number)` answers 400 code 21610 (the recipient opted out at the carrier).
- With a folder, each accepted message is also appended to `<folder>/messages.jsonl`, as the SMTP loopback
  keeps `.eml` files (`mentalspace serve` starts one when SMS_URL is unset).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

HOST = "127.0.0.1"
DEMO_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEMO_AUTH_TOKEN = "loopback-demo-token"  # not a secret: the simulator only listens on loopback
_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


class SmsSimulator:
    """The server: `start()` / `stop()` or a context manager; `env` is what SMS_URL and friends should say."""

    def __init__(
        self,
        account_sid: str = DEMO_ACCOUNT_SID,
        auth_token: str = DEMO_AUTH_TOKEN,
        port: int = 0,
        folder: Path | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.folder = Path(folder) if folder else None
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)
        self._port = port
        self._lock = threading.Lock()
        self._log: list[dict] = []
        self._by_key: dict[str, dict] = {}
        self._faults: deque[int] = deque()
        self._refused: set[str] = set()
        self._numbers = itertools.count(1)
        self.requests = 0  # every POST, answered or not
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([status] * times)

    def refuse(self, number: str) -> None:
        with self._lock:
            self._refused.add(number)

    def messages(self) -> list[dict]:
        """Every accepted message, oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the simulator first"
        return f"http://{HOST}:{self._server.server_address[1]}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "SMS_URL": self.base_url,
            "SMS_ACCOUNT_SID": self.account_sid,
            "SMS_AUTH_TOKEN": self.auth_token,
        }

    # -- protocol ------------------------------------------------------------------------------------------
    def _authorised(self, header: str | None, sid: str) -> bool:
        if not header or not header.startswith("Basic ") or sid != self.account_sid:
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict, dict]:
        match = _PATH.match(path.split("?", 1)[0])
        if match is None:
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}, {}
        if not self._authorised(headers.get("Authorization"), match["sid"]):
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}, {}
        if method == "GET":
            return 200, {"messages": list(reversed(self.messages()))}, {}
        with self._lock:
            self.requests += 1
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            extra = {"Retry-After": "0"} if fault == 429 else {}
            code = 20429 if fault == 429 else 20500
            return fault, {"code": code, "message": "Injected fault", "status": fault}, extra
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        to, sender, text = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not _E164.match(to):
            return (
                400,
                {
                    "code": 21211,
                    "message": f"The 'To' number {to} is not a valid phone number.",
                    "status": 400,
                },
                {},
            )
        if not text:
            return 400, {"code": 21602, "message": "Message body is required.", "status": 400}, {}
        if to in self._refused:
            return (
                400,
                {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400},
                {},
            )
        key = headers.get("Idempotency-Key")
        with self._lock:
            if key and key in self._by_key:
                return 201, self._by_key[key], {}
            message = {
                "sid": f"SM{next(self._numbers):032x}",
                "account_sid": self.account_sid,
                "to": to,
                "from": sender,
                "body": text,
                "status": "queued",
                "num_segments": str(1 if len(text) <= 160 else -(-len(text) // 153)),
                "date_created": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
            }
            self._log.append(message)
            if key:
                self._by_key[key] = message
            if self.folder:
                with open(self.folder / "messages.jsonl", "a", encoding="utf-8") as f:
                    f.write(json.dumps(message) + "\n")
        return 201, message, {}

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> SmsSimulator:
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, extra = simulator.handle(method, self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self._answer("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def log_message(self, format, *args) -> None:  # noqa: A002
                pass  # request lines carry the account id only, but the demo's terminal needs none of it

        server = ThreadingHTTPServer((HOST, self._port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> SmsSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        description="local SMS provider (Twilio-shaped) keeping messages in a file"
    )
    parser.add_argument("--folder", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args()
    from operational_api.notifications.loopback import wait_for_stop

    simulator = SmsSimulator(port=args.port, folder=args.folder).start()
    try:
        wait_for_stop()
    finally:
        simulator.stop()
