"""A small headless-Chromium driver over the DevTools protocol (no Playwright or Selenium in the lock).

Starts Debian's `chromium` with a throwaway profile, connects to its page over a websocket
(`websockets`, already a Streamlit dependency) and offers what the dashboard test needs: navigate,
wait for text, type into a labelled input, click by text, screenshot, and accept downloads.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

from tests.servers import free_port

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1440,2200",
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(AssertionError):
    pass


class Chromium:
    """One headless Chromium and the DevTools session of its first tab."""

    def __init__(self, profile_dir: Path, downloads_dir: Path) -> None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        downloads_dir.mkdir(parents=True, exist_ok=True)
        self.downloads_dir = downloads_dir
        port = free_port()
        self.process = subprocess.Popen(
            [
                chromium_path(),
                *CHROMIUM_FLAGS,
                f"--remote-debugging-port={port}",
                "--remote-debugging-address=127.0.0.1",
                f"--user-data-dir={profile_dir}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self.requested_urls: list[str] = []  # every request the page made (Network domain events)
        self.ws = connect(self._page_websocket(port), max_size=64 * 1024 * 1024, open_timeout=20, legacy=True)
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Network.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride", width=1440, height=2200, deviceScaleFactor=1, mobile=False
        )
        self.send(
            "Browser.setDownloadBehavior",
            behavior="allow",
            downloadPath=str(downloads_dir),
            eventsEnabled=True,
        )

    def _page_websocket(self, port: int) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as response:
                    pages = [t for t in json.load(response) if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited with code {self.process.returncode}")
            time.sleep(0.2)
        raise BrowserError("chromium's DevTools endpoint did not come up")

    def send(self, method: str, **params):
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("method") == "Network.requestWillBeSent":
                self.requested_urls.append(message["params"]["request"]["url"])
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails'].get('text')}: {expression[:200]}")
        return result.get("result", {}).get("value")

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def main_text(self) -> str:
        """The page's own content, without the sidebar's navigation (what a failure message should show)."""
        return (
            self.evaluate(
                "(document.querySelector('[data-testid=\"stMain\"]') || document.body || {innerText: ''}).innerText"
            )
            or ""
        )

    def wait_for(self, predicate_js: str, timeout: float = 30, what: str = "") -> None:
        """Wait until the JS expression is truthy and Streamlit has finished running the script."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.evaluate(
                f"!!({predicate_js}) && (document.querySelector('[data-testid=\"stApp\"]') || {{dataset: {{}}}})"
                ".dataset.testScriptState === 'notRunning'"
            )
            if ready:
                time.sleep(0.4)  # let the last deltas paint
                return
            time.sleep(0.2)
        raise BrowserError(
            f"timed out waiting for {what or predicate_js}; page text: {self.main_text()[-3000:]}"
        )

    def wait_for_text(self, text: str, timeout: float = 30) -> None:
        self.wait_for(
            f"document.body && document.body.innerText.includes({json.dumps(text)})", timeout, repr(text)
        )

    def wait_for_title(self, title: str, timeout: float = 30) -> None:
        """Wait for a page whose h1 is `title` to finish rendering."""
        self.wait_for(
            f"[...document.querySelectorAll('h1')].some(h => h.innerText.trim() === {json.dumps(title)})",
            timeout,
            f"page {title!r}",
        )

    def _centre(self, js_element: str, timeout: float = 30) -> tuple[float, float]:
        """Where to click `js_element`: its centre once it exists, holds still and is the element on top there.

        Streamlit paints a page progressively (a chart or a message above can push the element down after it
        appears): a click at a position read a moment earlier can land on nothing, and a form is then silently
        never submitted. So the position must be the same on two reads and hit the element itself."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            rect = self.evaluate(
                f"(() => {{ const e = {js_element}; if (!e) return null; e.scrollIntoView({{block: 'center'}}); "
                "const r = e.getBoundingClientRect(); const x = r.x + r.width / 2, y = r.y + r.height / 2; "
                "const top = document.elementFromPoint(x, y); return [x, y, !!top && e.contains(top)]; })()"
            )
            if rect and rect[2] and rect[:2] == last:
                return rect[0], rect[1]
            last = rect[:2] if rect else None
            if time.monotonic() > deadline:
                raise BrowserError(
                    f"no clickable element for {js_element}; page text: {self.main_text()[-3000:]}"
                )
            time.sleep(0.15)

    def click(self, js_element: str) -> None:
        x, y = self._centre(js_element)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def click_button(self, label: str) -> None:
        self.click(
            # A button's text may start with its Material icon's name ("download\nDownload CSV").
            "[...document.querySelectorAll('button')].find(b => !b.disabled && "
            f"b.innerText.trim().split('\\n').pop().trim() === {json.dumps(label)})"
        )

    def click_nav(self, title: str) -> None:
        """Open a page from the sidebar navigation (client-side, so the signed-in session is kept)."""
        self.click(
            "[...document.querySelectorAll('[data-testid=\"stSidebarNav\"] a')]"
            f".find(a => a.innerText.trim().endsWith({json.dumps(title)}))"
        )

    def type_into(self, aria_label: str, text: str) -> None:
        self.click(f"document.querySelector('input[aria-label={json.dumps(aria_label)}]')")
        self.send("Input.insertText", text=text)

    def choose(self, label: str, option: str) -> None:
        """Pick `option` in the selectbox labelled `label`: type its text over the current choice (the list
        filters on it), then click it in the list."""
        combo = f"document.querySelector('input[role=\"combobox\"][aria-label={json.dumps(label)}]')"
        self.click(combo)
        self.evaluate(f"{combo}.select()")
        self.send("Input.insertText", text=option)
        self.click(
            f"[...document.querySelectorAll('[role=\"option\"]')].find(o => o.innerText.trim() === {json.dumps(option)})"
        )
        # A choice that did not take leaves the list open, and the next click only closes it: fail here, by name.
        deadline = time.monotonic() + 10
        while self.selected(label) != option:
            if time.monotonic() > deadline:
                raise BrowserError(f"{label!r} shows {self.selected(label)!r} after choosing {option!r}")
            time.sleep(0.1)

    def selected(self, label: str) -> str:
        """What the selectbox labelled `label` shows as its choice."""
        return self.evaluate(
            f"document.querySelector('input[role=\"combobox\"][aria-label={json.dumps(label)}]')?.value ?? ''"
        )

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def wait_for_download(self, suffix: str, timeout: float = 30) -> Path:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [p for p in self.downloads_dir.iterdir() if p.name.endswith(suffix)]
            if done:
                return done[0]
            time.sleep(0.2)
        raise BrowserError(f"no download ending in {suffix} in {self.downloads_dir}")

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
