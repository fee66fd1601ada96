"""AdvancedMD credentials from the environment or a secrets file; the password never shows in repr/logs."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ingest.advancedmd.errors import CredentialsError

DEFAULT_LOGIN_URL = "https://partnerlogin.advancedmd.com/practicemanager/xmlrpc/processrequest.aspx"
DEV_APP_NAME = "TEMP"

ENV_VARS = {
    "username": "AMD_USERNAME",
    "password": "AMD_PASSWORD",
    "office_key": "AMD_OFFICE_KEY",
    "app_name": "AMD_APP_NAME",
    "login_url": "AMD_LOGIN_URL",
}
SECRETS_FILE_VAR = "AMD_SECRETS_FILE"


@dataclass(frozen=True)
class AmdCredentials:
    """Login data for one office key. ``repr``/``str`` mask the password."""

    username: str
    password: str = field(repr=False)
    office_key: str
    app_name: str = DEV_APP_NAME
    login_url: str = DEFAULT_LOGIN_URL

    def __post_init__(self) -> None:
        for name in ("username", "password", "office_key", "app_name", "login_url"):
            if not getattr(self, name):
                raise CredentialsError(f"AdvancedMD credential {name!r} ({ENV_VARS[name]}) is empty")
        if not self.office_key.isdigit():
            raise CredentialsError("AdvancedMD office key (AMD_OFFICE_KEY) must be digits")

    def __repr__(self) -> str:
        return (
            f"AmdCredentials(username={self.username!r}, password='***', office_key={self.office_key!r}, "
            f"app_name={self.app_name!r}, login_url={self.login_url!r})"
        )

    __str__ = __repr__

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> AmdCredentials:
        """Accept either ``AMD_USERNAME``-style or ``username``-style keys."""
        picked: dict[str, str] = {}
        for name, var in ENV_VARS.items():
            value = values.get(var, values.get(name))
            if value is not None and str(value).strip():
                picked[name] = str(value).strip()
        missing = [ENV_VARS[n] for n in ("username", "password", "office_key") if n not in picked]
        if missing:
            raise CredentialsError(f"missing AdvancedMD credentials: {', '.join(missing)}")
        return cls(**picked)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AmdCredentials:
        """Read ``AMD_USERNAME``, ``AMD_PASSWORD``, ``AMD_OFFICE_KEY`` [, ``AMD_APP_NAME``, ``AMD_LOGIN_URL``]."""
        return cls.from_mapping(os.environ if environ is None else environ)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> AmdCredentials:
        """Read a secrets file: a JSON object, or ``KEY=VALUE`` lines (``#`` comments allowed)."""
        text = Path(path).read_text(encoding="utf-8")
        stripped = text.lstrip()
        if stripped.startswith("{"):
            try:
                data = json.loads(stripped)
            except ValueError as exc:
                raise CredentialsError(f"secrets file {path} is not valid JSON") from exc
            return cls.from_mapping({str(k): str(v) for k, v in data.items()})
        values: dict[str, str] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
        return cls.from_mapping(values)


def load_credentials(
    environ: Mapping[str, str] | None = None, secrets_file: str | os.PathLike[str] | None = None
) -> AmdCredentials:
    """Environment first; otherwise the secrets file given or named by ``AMD_SECRETS_FILE``."""
    env = os.environ if environ is None else environ
    if all(env.get(ENV_VARS[n]) for n in ("username", "password", "office_key")):
        return AmdCredentials.from_env(env)
    path = secrets_file or env.get(SECRETS_FILE_VAR)
    if path:
        return AmdCredentials.from_file(path)
    return AmdCredentials.from_env(env)  # raises, naming the missing variables
