"""A pre-warmed dbt: a process that imports dbt once and forks a child per dbt command.

Every dbt process spends about 2.5 s starting, 1.4 s of it importing dbt; the 15-minute refresh runs two `dbt build`s
(orchestration/defs/dbt/assets.py). `start()` starts the server early (while a run lands its data) and gives a
launcher to run instead of dbt: the client (mentalspace_platform/dbt_warm_client.py) hands the command, its working
folder, its whole environment and its stdin/stdout/stderr to the server, whose forked child runs dbt's own entry
point with them, so the caller sees what the real dbt would write and its exit code. Without a server the client
runs the real dbt: never slower than before but for the client's own start (~20 ms).

Dagster-free: the CLI may use it too.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mentalspace_platform.environment import DBT_EXECUTABLE

CLIENT_SOURCE = Path(__file__).with_name("dbt_warm_client.py")
SOCKET_NAME = "dbt.sock"
LAUNCHER_NAME = "dbt"
# Read by dbt, its adapters or the interpreter when they are imported, not when a command runs: the child of a
# server imported under other values would not be the dbt this environment asks for, so such a command runs the
# real dbt instead. Measured by tracing os.environ during `import dbt.cli.main, dbt.adapters.duckdb,
# dbt.adapters.postgres` (dbt-core 1.11): dbt_common's record/replay switches, DBT_MACRO_DEBUGGING and the package
# hub's address; the locale (babel, gettext); protobuf's, msgpack's and OpenTelemetry's implementation switches.
IMPORT_TIME_VARIABLES = (
    "DBT_MACRO_DEBUGGING",
    "DBT_PACKAGE_HUB_URL",
    "LANG",
    "LANGUAGE",
    "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION",
    "MSGPACK_PUREPYTHON",
    "OTEL_PYTHON_CONTEXT",
)
IMPORT_TIME_PREFIXES = ("DBT_RECORDER_", "DBT_ENGINE_RECORDER_", "LC_", "NETWORKX_", "PYTHON")
# Set by dagster-dbt for every dbt it starts: the child honours the first itself, the second is Windows-only.
PER_COMMAND_PYTHON_VARIABLES = ("PYTHONUNBUFFERED", "PYTHONLEGACYWINDOWSSTDIO")
# The caller has not sent its command by then: it is not our client.
REQUEST_TIMEOUT_SECONDS = 10
STOP_TIMEOUT_SECONDS = 10


@dataclass
class Summary:
    """What a server did, for its caller's log (never the commands or environments themselves)."""

    served: int = 0
    declined: dict[str, int] = field(default_factory=dict)
    # Why the server could not serve at all (dbt failed to import, or it ended unexpectedly).
    failure: str | None = None

    def describe(self) -> str | None:
        """One line for a log: how the dbt commands ran; None when none ran."""
        if self.failure:
            return f"dbt ran as a fresh process, not pre-warmed: {self.failure}"
        declined = sum(self.declined.values())
        if not self.served and not declined:
            return None
        line = f"{self.served} dbt command(s) ran in a pre-warmed dbt process"
        if declined:
            reasons = "; ".join(f"{reason} ({count})" for reason, count in sorted(self.declined.items()))
            line += f", {declined} as a fresh process: {reasons}"
        return line


@dataclass
class WarmDbt:
    """A running server: `client` is the executable to run in dbt's place."""

    folder: Path
    client: Path
    process: subprocess.Popen
    summary: Summary | None = None  # once stopped

    def stop(self) -> Summary:
        """End the server (and any dbt it still runs) and say what it did; once stopped, what it said."""
        if self.summary is not None:
            return self.summary
        try:
            output, _ = self.process.communicate(input=b"", timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
        lines = output.decode(errors="replace").strip().splitlines()
        try:
            self.summary = Summary(**json.loads(lines[-1]))
        except (IndexError, ValueError, TypeError):
            self.summary = Summary(failure=f"its server ended with exit code {self.process.returncode}")
        return self.summary


def start() -> WarmDbt:
    """Start a server; it imports dbt in the background and answers commands once it has."""
    folder = Path(tempfile.mkdtemp(prefix="mentalspace-dbt-"))  # 0700: only this user reaches the socket
    try:
        client = _write_launcher(folder)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Bound before the server starts, so a command that comes before dbt is imported waits in the backlog
        # rather than finding no socket and paying for a whole fresh dbt.
        listener.bind(str(folder / SOCKET_NAME))
        listener.listen(16)
        with listener:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(listener.fileno())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                pass_fds=(listener.fileno(),),
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return WarmDbt(folder, client, process)


def _write_launcher(folder: Path) -> Path:
    """The client, written with this interpreter in its shebang and this server's socket in it.

    Written at start rather than committed: a committed script's shebang would name a Python by a path that differs
    between clones (or `env python3`, whichever is first on PATH), and the socket is this server's alone. dagster-dbt
    checks its dbt with shutil.which, so it is a real executable file. `-IS`: no site-packages, no user site and no
    PYTHON* variables, which the client needs none of (~20 ms instead of ~60 ms to start)."""
    source = CLIENT_SOURCE.read_text()
    settings = {'SOCKET_PATH = ""': str(folder / SOCKET_NAME), 'REAL_DBT = ""': DBT_EXECUTABLE}
    for placeholder, value in settings.items():
        if placeholder not in source:
            raise RuntimeError(f"{CLIENT_SOURCE.name} no longer has the line {placeholder!r}")
        source = source.replace(placeholder, f"{placeholder.split(' = ')[0]} = {value!r}", 1)
    launcher = folder / LAUNCHER_NAME
    launcher.write_text(f"#!{sys.executable} -IS\n{source}")
    launcher.chmod(0o700)
    return launcher


# The server process from here on.


def _serve(listener_fd: int) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the caller decides when the server ends (stdin closes).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    listener = socket.socket(fileno=listener_fd)
    summary = Summary()
    try:
        import dbt.adapters.duckdb  # noqa: F401
        import dbt.adapters.postgres  # noqa: F401
        import dbt.cli.main  # noqa: F401
    except Exception as error:  # a broken dbt: its callers run the real one, which reports it
        listener.close()
        summary.failure = f"dbt failed to import in the warm process ({type(error).__name__})"
        _print_summary(summary)
        return
    _Server(listener, summary).run()
    _print_summary(summary)


def _print_summary(summary: Summary) -> None:
    sys.stdout.write(json.dumps(summary.__dict__) + "\n")
    sys.stdout.flush()


class _Server:
    def __init__(self, listener: socket.socket, summary: Summary) -> None:
        self.listener = listener
        self.summary = summary
        self.declined: Counter[str] = Counter()
        self.children: dict[int, socket.socket] = {}  # pid -> its client's connection
        self.selector = selectors.DefaultSelector()
        self.wakeup_read, self.wakeup_write = os.pipe()
        os.set_blocking(self.wakeup_read, False)
        os.set_blocking(self.wakeup_write, False)
        # SIGCHLD wakes the loop through the pipe; the handler itself does nothing.
        signal.set_wakeup_fd(self.wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector.register(listener, selectors.EVENT_READ, self._accept)
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, self._stop)
        self.selector.register(self.wakeup_read, selectors.EVENT_READ, self._reap)
        self.running = True

    def run(self) -> None:
        while self.running:
            for key, _ in self.selector.select():
                key.data(key.fileobj)
            self._reap(None)
        for pid in list(self.children):
            _kill(pid, signal.SIGKILL)
        while self.children:
            pid, status = os.waitpid(-1, 0)
            self._finished(pid, status)
        self.summary.declined = dict(self.declined)

    def _stop(self, _fileobj) -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            self.running = False

    def _accept(self, _fileobj) -> None:
        conn, _ = self.listener.accept()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError):
            conn.close()
            return
        try:
            reason = _declined_because(request["env"])
            if reason:
                self.declined[reason] += 1
                conn.sendall(b"declined\n")
                conn.close()
                return
            server = os.getpid()
            pid = os.fork()
            if pid == 0:
                _run_dbt(request, fds, server)  # never returns
            self.children[pid] = conn
            self.summary.served += 1
            conn.sendall(b"started\n")
            self.selector.register(conn, selectors.EVENT_READ, self._from_client)
        except OSError:
            conn.close()
        finally:
            for fd in fds:
                os.close(fd)

    def _from_client(self, conn: socket.socket) -> None:
        pid = next((pid for pid, c in self.children.items() if c is conn), None)
        try:
            data = conn.recv(64)
        except OSError:
            data = b""
        if not data:
            # The client went away: nobody waits for this dbt's output or exit code any more.
            self.selector.unregister(conn)
            if pid is not None:
                _kill(pid, signal.SIGKILL)
            return
        for line in data.split():
            if pid is not None and line.isdigit() and int(line) in (signal.SIGINT, signal.SIGTERM):
                _kill(pid, int(line))

    def _reap(self, _fileobj) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self.wakeup_read, 4096)
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._finished(pid, status)

    def _finished(self, pid: int, status: int) -> None:
        conn = self.children.pop(pid, None)
        if conn is None:
            return
        # A shell's convention: a child ended by signal n exits 128 + n.
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        with contextlib.suppress(OSError):
            conn.sendall(b"exit %d\n" % code)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn)
        conn.close()


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    conn.settimeout(REQUEST_TIMEOUT_SECONDS)
    header, fds, _, _ = socket.recv_fds(conn, 11, 3)
    try:
        while len(header) < 11:
            more = conn.recv(11 - len(header))
            if not more:
                raise ValueError("the request ended early")
            header += more
        if len(fds) != 3:
            raise ValueError("the request did not pass stdin, stdout and stderr")
        size = int(header)
        body = bytearray()
        while len(body) < size:
            more = conn.recv(min(size - len(body), 1 << 16))
            if not more:
                raise ValueError("the request ended early")
            body += more
        request = json.loads(body)
        if not isinstance(request.get("argv"), list) or not isinstance(request.get("env"), dict):
            raise ValueError("the request has no argv or env")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    conn.settimeout(None)
    return request, fds


def _declined_because(env: dict[str, str]) -> str | None:
    """Why this command must not run in a child of this server, or None (names a variable, never its value)."""
    names = {
        name
        for name in (*env, *os.environ)
        if (name in IMPORT_TIME_VARIABLES or name.startswith(IMPORT_TIME_PREFIXES))
        and name not in PER_COMMAND_PYTHON_VARIABLES
    }
    differing = sorted(name for name in names if env.get(name) != os.environ.get(name))
    if differing:
        return "set differently from when dbt was imported: " + ", ".join(differing)
    return None


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _run_dbt(request: dict, fds: list[int], server: int) -> None:
    """In the forked child: become the dbt the client would have started, and exit with its code."""
    code = 1
    try:
        _die_with_server(server)
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        # As in any Python program: dbt turns it into KeyboardInterrupt and cancels its queries.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        # The server's listener, pipes and other clients' connections are not dbt's.
        _close_other_descriptors()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        _reopen_standard_streams(unbuffered=bool(os.environ.get("PYTHONUNBUFFERED")))
        sys.argv = [DBT_EXECUTABLE, *request["argv"]]
        from dbt.cli.main import cli

        try:
            # What the `dbt` console script does: sys.exit(cli()).
            cli()
            code = 0
        except SystemExit as done:
            code = _exit_code(done.code)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        # What the interpreter does on its way out of a real dbt, but for collecting garbage: dbt's multiprocessing
        # locks unregister from their resource tracker (else it warns of leaked semaphores on dbt's stderr) and its
        # logging flushes. The handlers were registered by the imports the server made for dbt, none by the server.
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _exit_code(value) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    sys.stderr.write(f"{value}\n")
    return 1


def _reopen_standard_streams(unbuffered: bool) -> None:
    """sys.stdout and sys.stderr over the client's descriptors, buffered as the client's environment asks: the
    server's were made for its own pipe, and dagster-dbt asks for unbuffered output to stream dbt's events as they
    happen. The server's own stay referenced (sys.__stdout__), so nothing closes their descriptors."""
    import io

    for name, fd in (("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        raw = io.FileIO(fd, "w", closefd=False)
        stream = io.TextIOWrapper(
            raw if unbuffered else io.BufferedWriter(raw),
            encoding=old.encoding,
            errors=old.errors,
            write_through=unbuffered,
            line_buffering=name == "stderr" and not unbuffered,
        )
        setattr(sys, name, stream)
    sys.stdin = io.TextIOWrapper(
        io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding=sys.stdin.encoding
    )


def _close_other_descriptors() -> None:
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            with contextlib.suppress(OSError):
                os.close(int(name))


def _die_with_server(server: int) -> None:
    """A dbt whose server ended (killed with its run) must not go on writing to the warehouse unwatched."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != server:  # the server ended before the line above
        os._exit(128 + signal.SIGKILL)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
