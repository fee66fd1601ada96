"""One parse of the dbt project for the test run, adopted by each embedded var/ folder that runs dbt.

A new var/ folder's first load of the Dagster definitions runs `dbt parse` (about 7.5 CPU-s), and a copied folder's
first dbt command parses the whole project again: dbt keeps its partial parse (`partial_parse.msgpack`) only while
a hash of the profile's connection details is unchanged (dbt/parser/manifest.py, `build_manifest_state_check`), and
the DuckDB file's path is one of them. Nothing dbt parses depends on that path on the embedded target: every node
names the database `warehouse`, the file's name, whichever folder holds it. So a folder adopts another's parse once
the hash in it is the one dbt computes for the folder's own profile (`adopt_dbt_parse`); dbt then checks everything
else as it always does (the project's files, the env vars the models read, vars, target) and re-parses what changed.

On PostgreSQL every node also names its database (`database`, `relation_name`), which is part of that hash too: a
folder adopts a parse made for another database with each name rewritten (`adopt_postgres_parse`), which is all
that dbt's parse of our project takes from it (no model reads `target.database`).
"""

from __future__ import annotations

import functools
import pprint
import shutil
from pathlib import Path

import msgpack

from mentalspace_platform.catalog import PARTIAL_PARSE_FILE
from mentalspace_platform.environment import DBT_PROJECT_DIR, Environment
from mentalspace_platform.warehouse import staging_path

EMBEDDED_TARGET = "dev"  # current_environment() without DBT_TARGET


@functools.cache
def _load_profile_api():
    """dbt's own profile reading (imported once per process: ~1.5 CPU-s)."""
    from argparse import Namespace

    from dbt.artifacts.resources.base import FileHash
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args

    set_from_args(Namespace(), None)
    return FileHash, Profile, read_profile, ProfileRenderer


def embedded_profile(var: Path, *, staged: bool = True) -> dict[str, str]:
    """The variables profiles.yml reads for the embedded warehouse of `var` as its builds see it (`staged`: every
    build writes the staged copy, mentalspace_platform/warehouse.py), or as a dbt command run on the live file sees
    it; as Environment.dbt_env() and the parse set them."""
    warehouse = var / "warehouse.duckdb"
    return {
        "DBT_TARGET": EMBEDDED_TARGET,
        "MENTALSPACE_DUCKDB_PATH": str(staging_path(warehouse) if staged else warehouse),
    }


def postgres_profile(url: str) -> dict[str, str]:
    """The variables profiles.yml reads for the PostgreSQL warehouse at `url`, from Environment.dbt_env() itself."""
    return Environment("prod", "prod", url, url, "UTC").dbt_env()


def profile_hash(variables: dict[str, str]) -> str:
    """The hash dbt keeps in a partial parse of the profile's connection details, for the profile variables
    `variables` (`embedded_profile`, `postgres_profile`)."""
    from dbt_common.context import set_invocation_context

    file_hash, profile, read_profile, renderer = _load_profile_api()
    set_invocation_context(variables)
    rendered = profile.from_raw_profiles(
        read_profile(str(DBT_PROJECT_DIR)),
        "mentalspace",
        renderer({}),
        target_override=variables["DBT_TARGET"],
    )
    return file_hash.from_contents(pprint.pformat(sorted(rendered.credentials.connection_info()))).checksum


def _unpacked(packed: bytes) -> dict:
    # ExtTypes (dbt's dates) come back as msgpack.ExtType and pack again as they were.
    return msgpack.unpackb(packed, raw=False, strict_map_key=False)


def _checked_profile_hash(tree: dict, source: Path, profile: dict[str, str]) -> str:
    """The profile hash stored in the unpacked partial parse `tree`, once it is the one computed for `profile`.

    Raises AssertionError when it is not: dbt's state check changed, and this module must follow it."""
    stored, expected = tree["state_check"]["profile_hash"]["checksum"], profile_hash(profile)
    assert stored == expected, (
        f"dbt's partial parse in {source} holds profile hash {stored}, tests/dbt_parse.py computes {expected}: "
        "update profile_hash() to dbt's build_manifest_state_check"
    )
    return stored


def adopt_dbt_parse(var: Path, parsed: Path, *, staged: bool = True) -> None:
    """Make the parse of the embedded var/ folder `parsed` (made for its builds) the current parse of the embedded
    var/ folder `var` (a new one, or a copy of `parsed`): its manifest, and its partial parse with `var`'s profile
    hash, for its builds (`staged`) or for dbt commands run on its live file (the AdvancedMD tests' own).

    Raises AssertionError when the hash computed for `parsed` is not the one dbt stored there: dbt's state check
    changed, and this module must follow it."""
    source = parsed / "dbt_target"
    target = var / "dbt_target"
    packed = (source / PARTIAL_PARSE_FILE).read_bytes()
    stored = _checked_profile_hash(_unpacked(packed), source, embedded_profile(parsed))
    # Both are hex digits of one length: the packed structure is unchanged.
    assert packed.count(stored.encode()) == 1, f"profile hash {stored} not found once in {source}"
    target.mkdir(parents=True, exist_ok=True)
    (target / PARTIAL_PARSE_FILE).write_bytes(
        packed.replace(stored.encode(), profile_hash(embedded_profile(var, staged=staged)).encode())
    )
    # Copied last, so newer than the project's files: the definitions' load takes it as current
    # (orchestration/defs/dbt/project.py).
    shutil.copyfile(source / "manifest.json", target / "manifest.json")


def adopt_postgres_parse(var: Path, parsed: Path, parsed_url: str, url: str) -> None:
    """Make the parse of the PostgreSQL var/ folder `parsed` (made for the warehouse at `parsed_url`) the current
    parse of the var/ folder `var`, whose warehouse is the database at `url` (a copy of `parsed`, or a new folder):
    each node's database renamed, and the profile hash of `url`'s.

    The old name must be one no model, column or test text can hold by chance: the run's names carry its id."""
    source = parsed / "dbt_target"
    target = var / "dbt_target"
    packed = (source / PARTIAL_PARSE_FILE).read_bytes()
    tree = _unpacked(packed)
    _checked_profile_hash(tree, source, postgres_profile(parsed_url))
    old, new = _database(parsed_url), _database(url)
    assert msgpack.packb(tree, use_bin_type=True) == packed, (
        f"{source}: dbt's partial parse does not repack as it was"
    )
    tree = _renamed(tree, old, new)
    tree["state_check"]["profile_hash"]["checksum"] = profile_hash(postgres_profile(url))
    target.mkdir(parents=True, exist_ok=True)
    (target / PARTIAL_PARSE_FILE).write_bytes(msgpack.packb(tree, use_bin_type=True))
    # Written last, so newer than the project's files: the definitions' load takes it as current.
    manifest = (source / "manifest.json").read_text()
    (target / "manifest.json").write_text(manifest.replace(old, new))


def _database(url: str) -> str:
    return postgres_profile(url)["MENTALSPACE_PG_DATABASE"]


def _renamed(value, old: str, new: str):
    if isinstance(value, str):
        return value.replace(old, new) if old in value else value
    if isinstance(value, dict):
        return {_renamed(k, old, new): _renamed(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, old, new) for v in value]
    return value
