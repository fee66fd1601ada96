"""How an AdvancedMD patient is tied to our client: the chart number.

AdvancedMD gives every patient a practice-chosen chart number. Our platform creates the
patient in AdvancedMD with the chart number ``MS`` + our client id in six digits
(``MS000123``), so the link never needs names or dates of birth. A chart that does not follow
that convention (a patient registered by hand in AdvancedMD) stays unlinked until somebody links
it in the store (``advancedmd_patients.sync_status = 'UNMATCHED'``).
"""

from __future__ import annotations

import re

CHART_PREFIX = "MS"
_CHART_RE = re.compile(r"^MS(\d{6,})$")


def chart_for_client(client_id: int) -> str:
    """The chart number our platform gives the client's AdvancedMD patient."""
    if client_id < 1:
        raise ValueError("client ids start at 1")
    return f"{CHART_PREFIX}{client_id:06d}"


def client_id_from_chart(chart: str | None) -> int | None:
    """Our client id encoded in an AdvancedMD chart number, or None when it follows no convention of ours."""
    if not chart:
        return None
    match = _CHART_RE.match(chart.strip().upper())
    return int(match.group(1)) if match else None


__all__ = ["CHART_PREFIX", "chart_for_client", "client_id_from_chart"]
