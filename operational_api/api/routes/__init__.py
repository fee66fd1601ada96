"""The route table: one router per area, mounted in this order by `create_app`.

Add an area by writing `routes/<area>.py` with a module-level `router` and listing it here (api/README.md).
"""

from __future__ import annotations

from operational_api.api.routes import appointments, auth, billing, clients, consents, notes, staff, users

ROUTE_TABLE = [
    auth.router,
    users.router,
    clients.router,
    consents.router,
    appointments.router,
    notes.router,
    billing.router,
    staff.router,
]
