"""PostgreSQL roles: `mentalspace db grant-app-role ROLE`, `mentalspace warehouse grant-analyst ROLE`.

Both are run by the owner role (the one that runs migrations and dbt) and are idempotent: run them again after
`mentalspace init` / `mentalspace build` add tables. What each role may do: operational_api/pg_roles.py.
"""

from __future__ import annotations

import argparse
import os

from operational_api.errors import PlatformError


def _password(args: argparse.Namespace) -> str | None:
    if not args.password_env:
        return None
    value = os.environ.get(args.password_env)
    if not value:
        raise PlatformError(f"--password-env {args.password_env}: that environment variable is not set")
    return value


def cmd_grant_app_role(args: argparse.Namespace) -> int:
    from operational_api.db import get_engine
    from operational_api.pg_roles import grant_app_role

    created = grant_app_role(get_engine(), args.role, password=_password(args))
    print(
        f"{'created' if created else 'updated'} application role {args.role}: read/write on the store, "
        f"INSERT and SELECT only on the audit log"
    )
    return 0


def cmd_grant_analyst(args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine

    from mentalspace_platform.environment import current_environment
    from operational_api.db import _normalise_url

    url = current_environment().warehouse_url
    if not url.startswith(("postgres://", "postgresql")):
        raise PlatformError(
            "grant-analyst is for a PostgreSQL warehouse (MENTALSPACE_WAREHOUSE_URL=postgresql://...); "
            "the embedded DuckDB warehouse is opened read-only instead (README, analysts)"
        )
    from operational_api.pg_roles import grant_analyst

    created = grant_analyst(create_engine(_normalise_url(url)), args.role, password=_password(args))
    print(
        f"{'created' if created else 'updated'} analyst role {args.role}: read-only, marts and reference only"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    for group, name, func, helptext in (
        (
            "db",
            "grant-app-role",
            cmd_grant_app_role,
            "the application's role: no UPDATE/DELETE on the audit log",
        ),
        ("warehouse", "grant-analyst", cmd_grant_analyst, "a read-only role on marts and reference only"),
    ):
        p = sub.add_parser(group, help=f"PostgreSQL roles: {group} {name} ROLE")
        commands = p.add_subparsers(dest=f"{group}_command", required=True)
        q = commands.add_parser(name, help=helptext)
        q.add_argument("role", help="role name (created when missing, LOGIN)")
        q.add_argument(
            "--password-env", default=None, help="environment variable holding the role's password"
        )
        q.set_defaults(func=func)
