"""Messages as MIME: Jinja2 templates give the HTML and the plain-text alternative from one context, and a
trend chart goes inline as a PNG drawn by the dashboards' own Plotly figure builder through kaleido.

Every message kind uses the same two templates (templates/message.*.j2): a title, sections of rows, an
optional chart. Content is escaped in the HTML (autoescape): whatever a person typed shows as text.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

import jinja2

from operational_api.notifications.outbox import Draft, utcnow
from operational_api.notifications.smtp import DEFAULT_SENDER

log = logging.getLogger(__name__)

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=jinja2.select_autoescape(["html.j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
# 7bit: every part is quoted-printable or base64, so the stored message is plain ASCII and sends byte for byte.
_POLICY = policy.SMTP.clone(cte_type="7bit")
CHART_SIZE = (600, 300)
DEFAULT_BROWSER = "/usr/bin/chromium"
# Starting the browser and drawing the first chart; each further chart adds 2 s to the deadline.
BATCH_TIMEOUT_SECONDS = 120
FIGURES_PER_PAGE_LOAD = 25  # see _open_kaleido


@dataclass
class Section:
    heading: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    empty: str = "Nothing."
    note: str | None = None
    colours: list[str | None] | None = None  # per row, for the cell in `colour_column` (a RAG status)
    colour_column: int = -1


@dataclass
class Content:
    """What one message says, before it is rendered."""

    kind: str
    recipient_user_id: int
    recipient_email: str
    recipient_name: str
    period: str
    subject: str
    title: str
    subtitle: str
    sections: list[Section]
    greeting: str | None = None
    footer: str = "Sent by the MentalSpace practice platform. Client initials and record numbers only."
    chart_title: str | None = None
    chart_png: bytes | PendingChart | None = None
    # (file name, CSV text): a scheduled report's table travels as a text/csv attachment.
    attachments: list[tuple[str, str]] = field(default_factory=list)


def render(content: Content, sender: str | None = None) -> Draft:
    """The Draft for the outbox: subject, both bodies, and the whole MIME message."""
    cid = None
    if isinstance(content.chart_png, PendingChart):
        raise ValueError("render a message after ChartRenderer.fill has drawn its chart")
    if content.chart_png:
        cid = hashlib.sha1(
            f"{content.kind}:{content.recipient_user_id}:{content.period}".encode()
        ).hexdigest()
    context = dict(
        title=content.title,
        subtitle=content.subtitle,
        greeting=content.greeting,
        sections=content.sections,
        footer=content.footer,
        chart_title=content.chart_title,
        chart_cid=f"{cid}@mentalspace" if cid else None,
        chart_missing=content.chart_title is not None and not content.chart_png,
    )
    html = _TEMPLATES.get_template("message.html.j2").render(**context)
    text = _TEMPLATES.get_template("message.txt.j2").render(**context)
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = content.subject
    message["From"] = sender or os.environ.get("SMTP_FROM") or DEFAULT_SENDER
    message["To"] = formataddr((content.recipient_name, content.recipient_email))
    message["Date"] = format_datetime(utcnow().replace(tzinfo=dt.UTC))
    key = hashlib.sha1(f"{content.kind}|{content.recipient_user_id}|{content.period}".encode()).hexdigest()
    message["Message-ID"] = f"<{key}@mentalspace>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if cid:
        html_part = message.get_payload()[1]
        html_part.add_related(content.chart_png, "image", "png", cid=f"<{cid}@mentalspace>")
    for file_name, text in content.attachments:
        message.add_attachment(text, subtype="csv", filename=file_name, cte="base64")
    return Draft(
        kind=content.kind,
        recipient_user_id=content.recipient_user_id,
        recipient_email=content.recipient_email,
        period=content.period,
        subject=content.subject,
        body_text=text,
        body_html=html,
        mime=message.as_string(policy=_POLICY),
    )


class PendingChart:
    """A figure waiting for its PNG: the renderer draws every pending figure of a run in one batch."""

    def __init__(self, figure) -> None:
        self.figure = figure


class ChartRenderer:
    """PNG charts through one kaleido browser per run, drawn in one batch over several tabs (a browser's start
    costs seconds, each chart a fraction of one). `png` only notes the figure; `fill` draws them all and puts
    each PNG into its message. Any failure to start or draw gives no chart, with the reason logged once: a
    message never fails for its chart."""

    TABS = 2  # the machines we run on have two cores; more tabs only wait for them

    def __init__(self) -> None:
        self._broken: str | None = None

    def __enter__(self) -> ChartRenderer:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def png(self, figure) -> PendingChart:
        return PendingChart(figure)

    def fill(self, contents: list[Content]) -> None:
        pending = [c for c in contents if isinstance(c.chart_png, PendingChart)]
        images = self._draw([c.chart_png.figure for c in pending]) if pending else []
        for content, image in zip(pending, images, strict=True):
            content.chart_png = image

    def _draw(self, figures: list) -> list[bytes | None]:
        if self._broken:
            return [None] * len(figures)
        browser = os.environ.get("BROWSER_PATH")
        if browser and not os.access(browser, os.X_OK):
            return self._give_up(f"no browser at BROWSER_PATH={browser}", len(figures))
        if not browser and Path(DEFAULT_BROWSER).exists():
            os.environ["BROWSER_PATH"] = DEFAULT_BROWSER
        outcome: dict = {}

        def work() -> None:
            try:
                outcome["images"] = asyncio.run(self._batch(figures))
            except BaseException as exc:  # noqa: BLE001 (kaleido raises many kinds; the reason is logged)
                outcome["error"] = exc

        # kaleido waits for ever on a browser that died: the batch gets a deadline instead.
        worker = threading.Thread(target=work, name="kaleido-batch", daemon=True)
        worker.start()
        worker.join(BATCH_TIMEOUT_SECONDS + 2 * len(figures))
        if worker.is_alive():
            return self._give_up(f"the browser did not answer within {BATCH_TIMEOUT_SECONDS} s", len(figures))
        if "error" in outcome:
            return self._give_up(_reason(outcome["error"]), len(figures))
        return outcome["images"]

    def _give_up(self, reason: str, count: int) -> list[None]:
        self._broken = reason
        log.warning("no charts in this run's messages: kaleido could not render (%s)", reason)
        return [None] * count

    async def _batch(self, figures: list) -> list[bytes | None]:
        width, height = CHART_SIZE
        async with _open_kaleido(self.TABS) as k:
            with tempfile.TemporaryDirectory(prefix="mentalspace-charts-") as folder:
                specs = []
                for i, figure in enumerate(figures):
                    # A copy: the dashboards' cached figure is never changed.
                    figure = figure.__class__(figure)
                    figure.update_layout(height=height, width=width, margin=dict(t=20, b=60, l=70, r=130))
                    specs.append(
                        {
                            "fig": figure,
                            "path": Path(folder) / f"{i}.png",
                            "opts": {"format": "png", "width": width, "height": height},
                        }
                    )
                errors = await k.write_fig_from_object(specs) or ()
                if errors:
                    log.warning("%d chart(s) could not be drawn: %s", len(errors), _reason(errors[0]))
                return [
                    s["path"].read_bytes() if s["path"].exists() and s["path"].stat().st_size else None
                    for s in specs
                ]


def _open_kaleido(tabs: int):
    import kaleido

    class TabReusingKaleido(kaleido.Kaleido):
        """kaleido reloads a tab's page (plotly.js, 4.7 MB, parsed again) after every figure: about 85% of a
        batch's time for the large practice's Monday reports. Here a tab is reloaded after every
        FIGURES_PER_PAGE_LOAD figures, which still bounds what a long-lived page accumulates. The hook is kaleido's
        private method (the lock pins kaleido); were it renamed, kaleido's own reload per figure applies."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._figures_per_tab: dict[int, int] = {}

        async def _return_kaleido_tab(self, tab) -> None:
            drawn = self._figures_per_tab.get(id(tab), 0) + 1
            self._figures_per_tab[id(tab)] = drawn
            if drawn % FIGURES_PER_PAGE_LOAD == 0:
                await tab.reload()
            await self.tabs_ready.put(tab)

    # No MathJax: our charts carry no TeX, and its default is a CDN address every page load would wait on.
    return TabReusingKaleido(n=tabs, mathjax=False)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"
