"""Where the browser's main thread goes, per step of a role's visit: a CPU profile (DevTools Profiler domain) from
the click to the page complete, its self time grouped by script (Streamlit's chunks by name: the main bundle, the
Vega / Plotly chunks, the data grid, Markdown) and the costliest functions.

Not a suite of `python -m bench`: a diagnostic for the `browser` suite's figures, run by hand on a built practice:

    MENTALSPACE_BENCH_BROWSER_VAR=/path/to/var python -m bench.browser_profile ADMIN [PAGE ...]

(PAGE limits which steps print; the walk is the bench's, the sign-in included.) "(program)" is the browser's own
native work outside JavaScript (layout, style, paint set-up, parsing); "(garbage collector)" V8's. Each step also
prints the renderer processes' CPU time, the figure to compare on a loaded machine (the profile's and the page's
durations are wall time, which a busy machine stretches). TRACE=1 sums a DevTools trace by event instead of profiling
(script, style, layout, paint).
"""

from __future__ import annotations

import collections
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from bench.browser import _MARK_CLICK, _painted_js, _sign_in_form_js, role_pages
from dashboards.access import PAGE_TITLES

TOP = 12


def _script(url: str) -> str:
    """A chunk's name without its content hash: `DataFrame.-f9-1zS0.js` -> `DataFrame`."""
    if not url:
        return ""
    name = url.rsplit("/", 1)[-1]
    return re.sub(r"\.[A-Za-z0-9_-]{8}\.js$", "", name) or url


def summarise(profile: dict) -> tuple[dict[str, float], dict[tuple[str, str], float], float]:
    """Self ms by script and by (script, function), and the profile's whole span in ms."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_us: collections.Counter = collections.Counter()
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        self_us[node_id] += delta
    by_script: collections.Counter = collections.Counter()
    by_function: collections.Counter = collections.Counter()
    for node_id, us in self_us.items():
        frame = nodes[node_id]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        script = _script(frame["url"]) or name
        if script == "(idle)":
            continue
        by_script[script] += us / 1000
        by_function[(script, f"{name}:{frame['lineNumber']}")] += us / 1000
    return by_script, by_function, (profile["endTime"] - profile["startTime"]) / 1000


def renderer_cpu_s(browser) -> float:
    """CPU seconds used so far by the browser's renderer processes (all their threads): unlike the page's own
    task durations, this does not grow while a loaded machine makes the page wait for a CPU."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family, grew = {browser.process.pid}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    ticks = 0
    for pid in family:
        try:
            if b"--type=renderer" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def trace_summary(events: list[dict]) -> collections.Counter:
    """Self ms of the renderer main thread's trace events by name (nested events' time taken from their parent)."""
    main = next(
        (
            (e["pid"], e["tid"])
            for e in events
            if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
        ),
        None,
    )
    spans = sorted(
        (e["ts"], e["ts"] + e.get("dur", 0), e["name"])
        for e in events
        if (e.get("pid"), e.get("tid")) == main and e.get("ph") == "X" and e.get("dur")
    )
    self_ms: collections.Counter = collections.Counter()
    stack: list[list] = []  # [end, name, child time]
    for start, end, name in spans:
        while stack and stack[-1][0] <= start:
            done = stack.pop()
            self_ms[done[1]] -= done[2] / 1000
        if stack:
            stack[-1][2] += min(end, stack[-1][0]) - start
        self_ms[name] += (end - start) / 1000
        stack.append([end, name, 0])
    for done in stack:
        self_ms[done[1]] -= done[2] / 1000
    return self_ms


def _trace(browser, act, expression: str) -> tuple[dict, list[dict]]:
    """Run the step under a DevTools trace: (the page's figure, the trace's events)."""
    browser.send(
        "Tracing.start",
        traceConfig={
            "includedCategories": ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8"]
        },
        transferMode="ReportEvents",
    )
    act()
    painted = browser.evaluate(expression)
    events: list[dict] = []
    message_id = 10**9
    browser.ws.send(json.dumps({"id": message_id, "method": "Tracing.end", "params": {}}))
    while True:
        message = json.loads(browser.ws.recv(timeout=120))
        if message.get("method") == "Tracing.dataCollected":
            events += message["params"]["value"]
        elif message.get("method") == "Tracing.tracingComplete":
            return painted, events


def _print(step: str, page: str, profile: dict, painted: dict, cpu_ms: float) -> None:
    by_script, by_function, span = summarise(profile)
    busy = sum(by_script.values())
    print(
        f"\n== {step} {page}: painted {painted.get('painted', 0):.0f} ms, complete {painted.get('complete') or 0:.0f}"
        f" ms; renderer CPU {cpu_ms:.0f} ms; profile {span:.0f} ms, main thread not idle {busy:.0f} ms "
        f"(load {os.getloadavg()[0]:.2f})"
    )
    for script, ms in by_script.most_common(TOP):
        print(f"   {ms:7.0f} ms  {script}")
    print("   top functions:")
    for (script, name), ms in by_function.most_common(TOP):
        print(f"   {ms:7.0f} ms  {script}  {name}")


def main(argv: list[str]) -> None:
    from tests.dashboards.browser import Chromium
    from tests.dashboards.conftest import fresh_recovery_code
    from tests.dashboards.test_browser import start_server, stop_server

    role, wanted = argv[0], set(argv[1:])
    var = Path(os.environ["MENTALSPACE_BENCH_BROWSER_VAR"])
    logins = {
        r: (e, p) for r, e, p in (x.split("\t") for x in (var / "demo_logins.txt").read_text().splitlines())
    }
    pages = role_pages(role)
    url, process = start_server(var)
    with tempfile.TemporaryDirectory() as folder:
        browser = Chromium(Path(folder) / "profile", Path(folder) / "downloads")
        try:
            browser.send("Profiler.enable")
            browser.send("Profiler.setSamplingInterval", interval=200)

            def step(name: str, page: str, act, expression: str) -> None:
                if os.environ.get("TRACE"):
                    painted, events = _trace(browser, act, expression)
                    if not wanted or page in wanted:
                        by_name = trace_summary(events)
                        print(
                            f"\n== {name} {page}: painted {painted.get('painted', 0):.0f} ms; trace self ms by event:"
                        )
                        for event, ms in by_name.most_common(TOP + 6):
                            print(f"   {ms:7.0f} ms  {event}")
                    return
                cpu = renderer_cpu_s(browser)
                browser.send("Profiler.start")
                act()
                painted = browser.evaluate(expression)
                cpu = renderer_cpu_s(browser) - cpu
                profile = browser.send("Profiler.stop")["profile"]
                if not wanted or page in wanted:
                    _print(name, page, profile, painted, cpu * 1000)

            def open_form() -> None:
                browser.navigate(url + "/")
                while browser.evaluate("location.href") == "about:blank":
                    time.sleep(0.05)

            step("sign-in form", "sign_in", open_form, _sign_in_form_js())
            browser.type_into("Email", logins[role][0])
            browser.type_into("Password", logins[role][1])
            browser.click_button("Sign in")
            browser.wait_for_text("Authentication code", timeout=60)
            browser.type_into("Authentication code", fresh_recovery_code(var, logins[role][0]))
            browser.evaluate(_MARK_CLICK)
            step(
                "sign-in -> first page",
                pages[0],
                lambda: browser.click_button("Verify"),
                _painted_js(pages[0], True),
            )
            for page in [*pages[1:], pages[0]]:
                browser.evaluate(_MARK_CLICK)
                step(
                    "navigate",
                    page,
                    lambda page=page: browser.click_nav(PAGE_TITLES[page]),
                    _painted_js(page, True),
                )
        finally:
            browser.close()
            stop_server(process)


if __name__ == "__main__":
    main(sys.argv[1:])
