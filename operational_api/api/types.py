"""Field types of the API's answers.

The store keeps instants as naive UTC; on the wire they are RFC 3339 with the offset (`...Z`), which is what the
OpenAPI `date-time` format promises and what lets a client tell them from practice-local times.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema


def _rfc3339(value: dt.datetime) -> str:
    utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return utc.isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[
    dt.datetime,
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
