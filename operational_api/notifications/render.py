"""Messages as MIME: Jinja2 templates give the HTML and the plain-text alternative from one context, and a
trend chart goes inline as a PNG drawn from the dashboards' own Vega-Lite spec (vl-convert).

Every message kind uses the same two templates (templates/message.*.j2): a title, sections of rows, an
optional chart. Content is escaped in the HTML (autoescape): whatever a person typed shows as text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
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
    """A chart's Vega-Lite spec waiting for its PNG: the renderer draws every pending chart of a run together."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec


class ChartRenderer:
    """PNG charts drawn from the dashboards' own Vega-Lite specs by vl-convert (Vega in an embedded JavaScript
    engine: no browser to start or wait on, about 0.05 CPU s a chart). `png` only notes the spec; `fill` draws
    them all and puts each PNG into its message. Any failure to draw gives no chart, with the reason logged once
    per run: a message never fails for its chart."""

    def __init__(self) -> None:
        self._failures: list[str] = []

    def __enter__(self) -> ChartRenderer:
        return self

    def __exit__(self, *exc) -> None:
        if self._failures:
            log.warning(
                "%d chart(s) could not be drawn; their messages go without (first reason: %s)",
                len(self._failures),
                self._failures[0],
            )

    def png(self, spec: dict) -> PendingChart:
        return PendingChart(spec)

    def fill(self, contents: list[Content]) -> None:
        for content in contents:
            if isinstance(content.chart_png, PendingChart):
                content.chart_png = self._draw(content.chart_png.spec)

    def _draw(self, spec: dict) -> bytes | None:
        import vl_convert

        width, height = CHART_SIZE
        # The page's spec is as wide as its column; a message's chart has a fixed size.
        sized = {**spec, "width": width, "height": height, "autosize": {"type": "fit", "contains": "padding"}}
        try:
            return vl_convert.vegalite_to_png(sized, scale=1)
        except Exception as exc:  # noqa: BLE001 (the converter raises plain ValueErrors; the reason is logged)
            self._failures.append(_reason(exc))
            return None


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"
