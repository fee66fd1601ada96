"""Where things live: the one place that turns the environment into paths and URLs.

Everything defaults to the embedded set-up under the git-ignored `var/` folder, so a fresh
clone runs with no server; `DATABASE_URL` and `MENTALSPACE_WAREHOUSE_URL` point at PostgreSQL
in production.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    """The folder that holds the embedded databases and run state (created on demand)."""
    path = Path(os.environ.get("MENTALSPACE_VAR_DIR", REPO_ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """The operational store: `DATABASE_URL`, else a SQLite file under var/."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir() / 'operational.db'}"


def practice_timezone() -> str:
    """The practice's time zone; periods (days, weeks, months) are cut in it."""
    return os.environ.get("MENTALSPACE_PRACTICE_TZ", "America/New_York")


# Two: the machine this platform is sized for has two cores, and one uvicorn process (one event loop, one GIL)
# uses one of them (bench/api.py: at 50 clients one process was the bottleneck).
DEFAULT_API_WORKERS = 2


def api_workers() -> int:
    """uvicorn worker processes of the operational API (`MENTALSPACE_API_WORKERS`, default DEFAULT_API_WORKERS).
    Every state a request depends on is in the store (sign-ins, lockouts, the sign-in throttle's failures,
    idempotency keys, the signing key), so the workers need not share memory; a process keeps only caches."""
    raw = os.environ.get("MENTALSPACE_API_WORKERS", str(DEFAULT_API_WORKERS))
    if not raw.isdigit() or not 1 <= int(raw) <= 16:
        raise ValueError(f"MENTALSPACE_API_WORKERS must be a number of processes (1-16), not {raw!r}")
    return int(raw)


def api_port() -> int:
    """The operational API's port on loopback (`mentalspace serve`): `MENTALSPACE_API_PORT`, default 8000."""
    raw = os.environ.get("MENTALSPACE_API_PORT", "8000")
    if not raw.isdigit() or not 0 < int(raw) <= 65535:
        raise ValueError(f"MENTALSPACE_API_PORT must be a port number (1-65535), not {raw!r}")
    return int(raw)
