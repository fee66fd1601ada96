"""Record ids as every surface accepts them.

The store's keys are 32-bit integers on PostgreSQL, and SQLite's driver cannot bind past 64 bits: an id outside
1..2**31-1 can name no record, and sent to a query it is a driver error (a 500) instead of a refusal. Path, query
and body ids are this type, so such an id is a 422 `request.invalid` at the boundary and the OpenAPI schema says
the range.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

MAX_RECORD_ID = 2**31 - 1

RecordId = Annotated[int, Interval(ge=1, le=MAX_RECORD_ID)]
