"""The request's one transaction and the API's PostgreSQL pool without pre-ping (api/context.py, api/app.py).

- A pooled connection the server dropped (a restart, an idle timeout, an administrator) fails the request's first
  statement, the auth check, before anything is written: the request is retried once on a fresh connection
  instead of answering 500.
- A request turned away after its auth check (role 403, scope 404, invalid body 422) leaves no transaction open:
  the next requests, more of them than the pool holds, still get connections.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.operational_api.api.conftest import Api


@pytest.mark.postgres
def test_a_connection_dropped_by_the_server_is_retried_not_a_500(postgres_api: Api):
    api = postgres_api
    client = api.as_role("FRONT_DESK")
    for _ in range(5):  # several pooled connections, all idle afterwards
        assert client.get("/users/me").status_code == 200
    with api.engine.connect() as conn:
        dropped = conn.execute(
            text(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            )
        ).scalar()
    assert dropped >= 1  # the API's pooled connections: they are gone, the pool does not know yet
    answers = [client.get("/users/me").status_code for _ in range(3)]
    assert answers == [200, 200, 200]


def test_requests_turned_away_after_the_auth_check_release_their_transaction(api: Api):
    clinician = api.as_role("CLINICIAN")
    # More than the pool's connections (and than the requests let in at once): a leaked transaction each would
    # exhaust it, and the last requests would wait for a connection until the pool's timeout.
    for _ in range(45):
        assert clinician.get("/users").status_code == 403  # administrators only: refused after the auth check
        assert clinician.get(f"/clients/{api.world.client_out}").status_code == 404  # out of scope
    assert clinician.get("/users/me").status_code == 200
