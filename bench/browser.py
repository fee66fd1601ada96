"""Dashboards in a real browser: sign-in to the first page, page-to-page navigation and a revisit, per role,
in headless Chromium against a cold `streamlit run` server on the large practice.

For every run, browser cache and role a new server is started (so each role's first page is a cold server's
first page: nothing imported by a page yet, no loader cached, no warehouse connection open) and a new
Chromium, on an empty profile (a first visit: nothing cached in the browser) or on a copy of a profile that
has opened every page once before (a returning user: Streamlit's scripts cached). The role then:
- opens the address and waits for the sign-in form and the server to finish its run ("sign-in form": from
  navigation start, no target; its "title ms" is when the form showed; its "complete" when the browser has also
  drawn the hidden examples the sign-in page shows to load the pages' element code, dashboards/components/
  prefetch.py, so that work is this step's, in its busy ms, and not the first page's);
- types its demo e-mail and password, clicks "Sign in", enters a one-time code and clicks "Verify"
  ("sign-in -> first page", from the Verify click, target 1.5 s);
- clicks each of its other pages in the sidebar in navigation order ("navigate", target 700 ms each);
- clicks its first page again ("revisit", target 700 ms).

A page counts as painted when, at an animation frame, all of these hold, and the figure is taken at the
following frame (so the frame that showed it has been painted):
- an h1 with the page's title is in the DOM;
- the page's first data element (`FIRST_ELEMENT`, one entry per page) is in the DOM with a non-zero height
  and is not stale (left over from the previous page): a metric card, a table (data grid), or a chart; on a
  page that shows data only after a choice or an upload (ERA upload, Notification preferences, Backfills),
  its first input;
- Streamlit is not running the script (`stApp` reports `notRunning`, so the "running" indicator is
  hidden and every element of the page has arrived).
Each figure is measured inside the page, from the `mousedown` of the click (or the navigation start) to
that frame, so the driver's polling adds nothing. Median and max are over --runs (at least 3). "title ms"
(median) is when the h1 first appeared: the page's first delta, against its last in the figure.
"complete" is when, after that, every chart and data grid on screen (not in a hidden tab) has been drawn
(the chart's SVG or canvas, the grid's canvas); the next click waits for it, so no step pays for the previous page's
drawing. "browser busy ms" is how long the page's main thread worked from the click to "complete" (Chromium's Performance metrics:
TaskDuration, with its JavaScript and its layout + style recalculation): what the figure spent in the
browser; the rest is the server's run and waiting (on a loaded machine, for a CPU).

The 1-minute load average (`os.getloadavg()`) is taken before each server starts and after it stops;
RESULTS.md lists it per run and role under the table. The practice is built once per size into a
temporary folder; set MENTALSPACE_BENCH_BROWSER_VAR (or MENTALSPACE_BENCH_DASHBOARDS_VAR) to a var/
folder already built with the same size to skip the build. MENTALSPACE_BENCH_BROWSER_ROLES (comma-separated, e.g.
ADMIN,CLINICIAN) measures only those roles, for a shorter run; the figures are the same.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.dashboards import _build
from bench.foundation import SIZES
from dashboards.access import ERA_UPLOAD_PAGE, ERA_UPLOAD_ROLES, PAGE_TITLES, PAGES_BY_ROLE

REPO_ROOT = Path(__file__).resolve().parents[1]
TITLE = "Dashboards in a real browser: sign-in to first page, page to page, revisit (headless Chromium, cold server)"
COLUMNS = [
    "size",
    "browser cache",
    "role",
    "step",
    "page",
    "median ms",
    "max ms",
    "title ms",
    "complete median ms",
    "complete max ms",
    "browser busy ms",
    "of which JS ms",
    "layout + style ms",
    "target ms",
    "max within target",
    "runs",
]
DEFAULT_SIZES = "large"
ROLES_VAR = "MENTALSPACE_BENCH_BROWSER_ROLES"
MIN_RUNS = 3
# "empty": a new Chromium profile (a first visit: Streamlit's scripts, the chart library's among them, fetched and
# compiled); "warm": a copy of a profile that has opened every page once (a returning user).
CACHES = ("empty", "warm")
FIRST_PAGE_TARGET_MS = 1500
NAVIGATION_TARGET_MS = 700
WAIT_MS = 45_000  # under the driver's 60 s wait for one DevTools answer
# The h1 of each page (the metric explorer opens on KVR, its title is the measure's label).
H1 = PAGE_TITLES | {"metric_explorer": "Kept Visit Rate (KVR)"}
METRIC = '[data-testid="stMetric"]'
TABLE = '[data-testid="stDataFrame"], [data-testid="stTable"]'
CHART = '[data-testid="stPlotlyChart"], [data-testid="stVegaLiteChart"]'
# Each page's first data element, the one "painted" waits for: the first metric card, table or chart the page
# shows on the large practice. A page that shows no data until a choice (or an upload) waits for its first input.
# Every page of the sidebar must be here: a page added without an entry stops the bench before it measures.
FIRST_ELEMENT = {
    "practice_overview": METRIC,
    "my_team": TABLE,
    "my_practice": METRIC,
    "metric_explorer": METRIC,
    "compliance_alerts": TABLE,
    "sent_mail": METRIC,
    "reports": METRIC,
    ERA_UPLOAD_PAGE: '[data-testid="stFileUploader"]',
    "schedule": TABLE,
    "front_desk_tasks": TABLE,
    "productivity_report": TABLE,
    "compliance_report": TABLE,
    "demographics_report": TABLE,
    "quarterly_review": TABLE,
    "report_builder": CHART,
    "users_admin": TABLE,
    "audit_log": TABLE,
    # Its first input, the asset group; the bench runs no Dagster, so the page says how to start it instead.
    "backfills": '[data-testid="stSelectbox"], [data-testid="stAlert"]',
    # Its first input: the first preference's toggle.
    "notification_preferences": '[data-testid="stCheckbox"]',
}
# Drawn when the chart's SVG or canvas (Vega-Lite) or the data grid's canvas is in them.
DRAWN = f"{CHART}, [data-testid='stDataFrame']"

_MARK_CLICK = (
    "window.__benchClick = undefined; window.addEventListener('mousedown', "
    "() => { window.__benchClick = performance.now(); }, {capture: true, once: true}); true"
)


def role_pages(role: str) -> list[str]:
    """The role's pages in sidebar order (the ERA upload page closes the Billing section, as the frame adds it)."""
    pages = [key for keys in PAGES_BY_ROLE[role].values() for key in keys]
    if (
        role in ERA_UPLOAD_ROLES
        and (REPO_ROOT / "dashboards" / "app_pages" / f"{ERA_UPLOAD_PAGE}.py").exists()
    ):
        billing = PAGES_BY_ROLE[role]["Billing"]
        pages.insert(pages.index(billing[-1]) + 1, ERA_UPLOAD_PAGE)
    unknown = [page for page in pages if page not in FIRST_ELEMENT]
    if unknown:
        raise RuntimeError(
            f"bench/browser.py FIRST_ELEMENT has no first data element for page(s) {', '.join(unknown)} "
            f"({role}): add the element each shows first (or its first input, if it shows data only after a choice)"
        )
    return pages


def _painted_js(page: str, since_click: bool) -> str:
    """A promise of {painted, title} in ms since the click (or navigation start), or {timeout, text}."""
    return f"""new Promise(resolve => {{
  const start = {"window.__benchClick" if since_click else "0"};
  const deadline = performance.now() + {WAIT_MS};
  let title;
  const check = () => {{
    // Cheapest tests first: this runs every frame on the main thread it measures.
    const app = document.querySelector('[data-testid="stApp"]');
    const hasTitle = [...document.querySelectorAll('h1')].some(h => h.textContent.trim() === {json.dumps(H1[page])});
    if (hasTitle && title === undefined) title = performance.now();
    const done = hasTitle && app && app.dataset.testScriptState === 'notRunning' && start !== undefined &&
      [...document.querySelectorAll({json.dumps(FIRST_ELEMENT[page])})].some(
        e => !e.closest('[data-stale="true"]') && e.getBoundingClientRect().height > 0);
    if (done) {{
      const painted = performance.now() - start;
      requestAnimationFrame(() => complete(painted, title - start));
    }} else if (performance.now() > deadline) {{
      resolve({{timeout: true, text: document.body ? document.body.innerText.slice(0, 800) : ''}});
    }} else {{
      requestAnimationFrame(check);
    }}
  }};
  // Then the whole page: every chart and data grid on screen drawn (not those in a hidden tab).
  const complete = (painted, titled) => {{
    const shown = [...document.querySelectorAll({json.dumps(DRAWN)})].filter(
      e => !e.closest('[data-stale="true"]') && e.getBoundingClientRect().height > 0);
    const drawn = shown.every(e => e.querySelector('.main-svg, canvas, svg.marks'));
    if (drawn || performance.now() > deadline) {{
      requestAnimationFrame(() => resolve({{painted, title: titled, complete: drawn ? performance.now() - start : null}}));
    }} else {{
      requestAnimationFrame(() => complete(painted, titled));
    }}
  }};
  check();
}})"""


def _sign_in_form_js() -> str:
    return f"""new Promise(resolve => {{
  let shown_at;
  const check = () => {{
    const app = document.querySelector('[data-testid="stApp"]');
    const form = document.querySelector('input[aria-label="Password"]');
    if (form && shown_at === undefined) shown_at = performance.now();
    if (form && app && app.dataset.testScriptState === 'notRunning') {{
      requestAnimationFrame(() => complete(performance.now()));
    }} else if (performance.now() > {WAIT_MS}) {{
      resolve({{timeout: true, text: document.body ? document.body.innerText.slice(0, 800) : ''}});
    }} else {{
      requestAnimationFrame(check);
    }}
  }};
  // Then the elements the sign-in page draws off screen to load the pages' code (dashboards/components/prefetch.py):
  // that work is the sign-in step's, so its busy ms include it and the next step starts after it.
  const complete = painted => {{
    const shown = [...document.querySelectorAll({json.dumps(DRAWN)})];
    const drawn = shown.every(e => e.querySelector('.main-svg, canvas, svg.marks'));
    if (drawn || performance.now() > {WAIT_MS}) {{
      requestAnimationFrame(() => resolve({{painted, title: shown_at, complete: drawn ? performance.now() : null}}));
    }} else {{
      requestAnimationFrame(() => complete(painted));
    }}
  }};
  check();
}})"""


def _busy(browser) -> dict[str, float]:
    """The page's main thread so far, in s: all its tasks, and the JavaScript, layout and style among them."""
    metrics = {m["name"]: m["value"] for m in browser.send("Performance.getMetrics")["metrics"]}
    return {
        key: metrics.get(name, 0.0)
        for key, name in (
            ("busy", "TaskDuration"),
            ("script", "ScriptDuration"),
            ("layout", "LayoutDuration"),
            ("style", "RecalcStyleDuration"),
        )
    }


def _await(browser, expression: str, what: str, before: dict[str, float]) -> dict:
    result = browser.evaluate(expression)
    if result.get("timeout"):
        raise RuntimeError(
            f"{what}: not painted within {WAIT_MS / 1000:.0f} s; page text: {result['text']!r}"
        )
    after = _busy(browser)
    result.update({key: (after[key] - before[key]) * 1000 for key in after})
    return result


def _walk(browser, url: str, login: tuple[str, str], role: str, var: Path) -> list[tuple[str, str, dict]]:
    """One role's visit: [(step, page, {painted, title})] in the order taken."""
    from tests.dashboards.browser import BrowserError
    from tests.dashboards.conftest import fresh_recovery_code

    pages = role_pages(role)
    steps = []
    browser.send("Performance.enable")
    browser.navigate(url + "/")
    # The document may still be about:blank when the first check runs; wait for the app's own document.
    deadline = time.monotonic() + 30
    while browser.evaluate("location.href") == "about:blank":
        if time.monotonic() > deadline:
            raise BrowserError("the dashboards' address did not load")
        time.sleep(0.05)
    steps.append(
        (
            "sign-in form",
            "sign_in",
            _await(
                browser,
                _sign_in_form_js(),
                f"{role} sign-in form",
                dict.fromkeys(("busy", "script", "layout", "style"), 0.0),
            ),
        )
    )
    browser.type_into("Email", login[0])
    browser.type_into("Password", login[1])
    browser.click_button("Sign in")
    # The MFA step: timed from the click that completes the sign-in (a recovery code, as the tests do).
    browser.wait_for_text("Authentication code", timeout=60)
    browser.type_into("Authentication code", fresh_recovery_code(var, login[0]))
    browser.evaluate(_MARK_CLICK)
    before = _busy(browser)
    browser.click_button("Verify")
    steps.append(
        (
            "sign-in -> first page",
            pages[0],
            _await(browser, _painted_js(pages[0], True), f"{role} {pages[0]}", before),
        )
    )
    for page in [*pages[1:], pages[0]] if len(pages) > 1 else []:
        browser.evaluate(_MARK_CLICK)
        before = _busy(browser)
        browser.click_nav(PAGE_TITLES[page])
        step = "revisit" if page == pages[0] else "navigate"
        steps.append((step, page, _await(browser, _painted_js(page, True), f"{role} {page}", before)))
    return steps


def _session(var: Path, profile: Path, login: tuple[str, str], role: str) -> list[tuple[str, str, dict]]:
    """A cold server and a Chromium on `profile`, one role's visit, both stopped after."""
    from tests.dashboards.browser import Chromium
    from tests.dashboards.test_browser import start_server, stop_server

    url, process = start_server(var)
    browser = Chromium(profile, profile.parent / "downloads")
    try:
        return _walk(browser, url, login, role, var)
    finally:
        browser.close()
        stop_server(process)


def _measure(var: Path, size: str, runs: int) -> list[dict]:
    logins = {
        role: (email, password)
        for role, email, password in (
            line.split("\t") for line in (var / "demo_logins.txt").read_text().splitlines()
        )
    }
    wanted = os.environ.get(ROLES_VAR)
    roles = [role for role in PAGES_BY_ROLE if not wanted or role in wanted.split(",")]
    if not roles:
        raise RuntimeError(f"{ROLES_VAR}={wanted!r} names no role of {', '.join(PAGES_BY_ROLE)}")
    samples: dict[tuple[str, str, str, str], list[dict]] = {}
    loads: dict[tuple[str, str], list[str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        # A browser that has opened the dashboards before: every page of the administrator (who has them all)
        # once, so its HTTP cache and compiled-code cache hold Streamlit's scripts, the charts' included.
        warm = Path(folder) / "warm" / "profile"
        _session(var, warm, logins["ADMIN"], "ADMIN")
        for run in range(1, max(runs, MIN_RUNS) + 1):
            for cache in CACHES:
                for role in roles:
                    profile = Path(folder) / f"{run}-{cache}-{role}" / "profile"
                    if cache == "warm":
                        shutil.copytree(
                            warm, profile, symlinks=True, ignore=shutil.ignore_patterns("Singleton*")
                        )
                    load_start = os.getloadavg()[0]
                    steps = _session(var, profile, logins[role], role)
                    load_end = os.getloadavg()[0]
                    shutil.rmtree(profile.parent, ignore_errors=True)
                    loads.setdefault((cache, role), []).append(f"{load_start:.2f} -> {load_end:.2f}")
                    print(
                        f"  run {run} {cache} {role} (load {load_start:.2f} -> {load_end:.2f}): "
                        + ", ".join(f"{page} {t['painted']:.0f}" for _, page, t in steps),
                        flush=True,
                    )
                    for step, page, timing in steps:
                        samples.setdefault((cache, role, step, page), []).append(timing)
    rows = []
    for (cache, role, step, page), timings in samples.items():
        painted = [t["painted"] for t in timings]
        target = {"sign-in form": None, "sign-in -> first page": FIRST_PAGE_TARGET_MS}.get(
            step, NAVIGATION_TARGET_MS
        )
        rows.append(
            {
                "size": size,
                "browser cache": cache,
                "role": role,
                "step": step,
                "page": page,
                "median ms": f"{statistics.median(painted):.0f}",
                "max ms": f"{max(painted):.0f}",
                "title ms": _median(timings, "title"),
                "complete median ms": _median(timings, "complete"),
                "complete max ms": _max(timings, "complete"),
                "browser busy ms": _median(timings, "busy"),
                "of which JS ms": _median(timings, "script"),
                "layout + style ms": _median(timings, "layout", "style"),
                "target ms": target or "",
                "max within target": "" if target is None else ("yes" if max(painted) < target else "NO"),
                "runs": len(painted),
                "samples ms": [round(p) for p in painted],
                # Kept on the role's sign-in row: one entry per run, in run order.
                "load avg per run": loads[(cache, role)] if step == "sign-in form" else [],
            }
        )
    return rows


def _max(timings: list[dict], key: str) -> str:
    if key not in timings[0]:
        return ""
    return "not drawn" if any(t[key] is None for t in timings) else f"{max(t[key] for t in timings):.0f}"


def _median(timings: list[dict], *keys: str) -> str:
    values = [sum(t[k] for k in keys) for t in timings if all(t.get(k) is not None for k in keys)]
    return f"{statistics.median(values):.0f}" if keys[0] in timings[0] and values else ""


def notes(rows: list[dict]) -> str:
    """What a figure means and the machine's load during each run (RESULTS.md, under the table)."""
    lines = "".join(
        f"- {r['size']} {r['browser cache']} {r['role']}: {', '.join(r['load avg per run'])}\n"
        for r in rows
        if r.get("load avg per run")
    )
    return (
        "Each figure: the click (or, for the sign-in form, the navigation start) to the page painted — its "
        "title, its first metric card, table or chart, and Streamlit done running — measured in the page "
        "(definition: `bench/browser.py`); a new server per run, browser cache and role; the browser's cache "
        "empty (first visit) or warm (a copy of a profile that has opened every page). "
        f"Machine: {os.cpu_count()} CPUs. 1-minute load average before -> after each run:\n\n{lines}"
    )


def run(args) -> list[dict]:
    if "duckdb" not in args.backends.split(","):
        print("  browser suite measures the embedded (DuckDB) warehouse only; skipped", flush=True)
        return []
    from tests.dashboards.browser import chromium_path

    if chromium_path() is None:
        print("  Chromium is not installed (apt-get install -y chromium); browser suite skipped", flush=True)
        return []
    rows = []
    for size in args.sizes.split(","):
        clinicians, months = SIZES[size]
        prebuilt = os.environ.get("MENTALSPACE_BENCH_BROWSER_VAR") or os.environ.get(
            "MENTALSPACE_BENCH_DASHBOARDS_VAR"
        )
        if prebuilt:
            rows += _measure(Path(prebuilt), size, args.runs)
            continue
        else:
            with tempfile.TemporaryDirectory() as folder:
                var = Path(folder) / "var"
                var.mkdir()
                _build(var, clinicians, months)
                rows += _measure(var, size, args.runs)
    return rows
