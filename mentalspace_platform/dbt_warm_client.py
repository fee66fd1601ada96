"""The `dbt` a warm dbt server's callers run: hands its command to the server (mentalspace_platform/dbt_warm.py).

It is copied whole into the launcher the server writes (after its two settings), and runs under `python -IS`: it
imports only what the interpreter has anyway, since its own start-up is what it exists to save. It passes its
stdin, stdout and stderr to the server, so the forked dbt writes its events straight into the caller's pipe, waits
for dbt's exit code and exits with it. If no server answers, it becomes the real dbt (execv), as if run directly.
"""

import json
import os
import signal
import socket
import sys

# Set by the launcher; a run of this file as it is never finds a server and runs the real dbt.
SOCKET_PATH = ""
REAL_DBT = ""


def _read_line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(64)
        if not chunk:
            return line
        line += chunk
    return line.rstrip(b"\n")


def main(socket_path: str, real_dbt: str) -> None:
    started = False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    pending: list[int] = []

    # dagster-dbt cancels a build with SIGINT to what it started: this process. dbt is the forked child, so the
    # signal goes on to it through the server (which knows whether that child still runs; a pid could be reused).
    def forward(signum, _frame):
        pending.append(signum)
        if started:
            _send_pending()

    def _send_pending():
        while pending:
            try:  # noqa: SIM105 - contextlib is one more import to start
                sock.sendall(b"%d\n" % pending.pop(0))
            except OSError:  # the server is gone, and dbt with it
                pass

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)

    reply = b""
    if socket_path:
        try:
            sock.connect(socket_path)
            request = json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
            socket.send_fds(sock, [b"%010d\n" % len(request)], [0, 1, 2])
            sock.sendall(request)
            reply = _read_line(sock)
        except OSError:
            reply = b""
    if reply != b"started":
        # No server, a dead one, or one that declined this command (it says why in its own summary): the real dbt,
        # unless a signal already asked to stop.
        sock.close()
        if pending:
            sys.exit(128 + pending[0])
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler)
        os.execv(real_dbt, [real_dbt, *sys.argv[1:]])
    started = True
    _send_pending()
    outcome = _read_line(sock)
    if outcome.startswith(b"exit "):
        sys.exit(int(outcome[5:]))
    # The server ended while dbt ran; its child ended with it (it dies with the server).
    sys.exit(128 + signal.SIGKILL)


if __name__ == "__main__":
    main(SOCKET_PATH, REAL_DBT)
