"""One parse of the dbt project for the test run, adopted by each embedded var/ folder that runs dbt.

A new var/ folder's first load of the Dagster definitions runs `dbt parse` (about 7.5 CPU-s), and a copied folder's
first dbt command parses the whole project again: dbt keeps its partial parse (`partial_parse.msgpack`) only while
a hash of the profile's connection details is unchanged (dbt/parser/manifest.py, `build_manifest_state_check`), and
the DuckDB file's path is one of them. Nothing dbt parses depends on that path on the embedded target: every node
names the database `warehouse`, the file's name, whichever folder holds it. So a folder adopts another's parse once
the hash in it is the one dbt computes for the folder's own profile (`adopt_dbt_parse`); dbt then checks everything
else as it always does (the project's files, the env vars the models read, vars, target) and re-parses what changed.

Embedded (DuckDB) folders only: on PostgreSQL each node names its database, so each database parses for itself.
"""

from __future__ import annotations

import functools
import pprint
import shutil
from pathlib import Path

import msgpack

from mentalspace_platform.catalog import PARTIAL_PARSE_FILE
from mentalspace_platform.environment import DBT_PROJECT_DIR
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


def profile_hash(var: Path, *, staged: bool = True) -> str:
    """The hash dbt keeps in a partial parse of the profile's connection details, for the embedded warehouse of
    `var` as its builds see it (`staged`: every build writes the staged copy, mentalspace_platform/warehouse.py),
    or as a dbt command run on the live file sees it."""
    from dbt_common.context import set_invocation_context

    file_hash, profile, read_profile, renderer = _load_profile_api()
    warehouse = var / "warehouse.duckdb"
    # The variables profiles.yml reads for the embedded target, as Environment.dbt_env() and the parse set them.
    set_invocation_context(
        {
            "DBT_TARGET": EMBEDDED_TARGET,
            "MENTALSPACE_DUCKDB_PATH": str(staging_path(warehouse) if staged else warehouse),
        }
    )
    rendered = profile.from_raw_profiles(
        read_profile(str(DBT_PROJECT_DIR)), "mentalspace", renderer({}), target_override=EMBEDDED_TARGET
    )
    return file_hash.from_contents(pprint.pformat(sorted(rendered.credentials.connection_info()))).checksum


def _stored_profile_hash(packed: bytes) -> str:
    return msgpack.unpackb(packed, strict_map_key=False)["state_check"]["profile_hash"]["checksum"]


def adopt_dbt_parse(var: Path, parsed: Path, *, staged: bool = True) -> None:
    """Make the parse of the embedded var/ folder `parsed` (made for its builds) the current parse of the embedded
    var/ folder `var` (a new one, or a copy of `parsed`): its manifest, and its partial parse with `var`'s profile
    hash, for its builds (`staged`) or for dbt commands run on its live file (the AdvancedMD tests' own).

    Raises AssertionError when the hash computed for `parsed` is not the one dbt stored there: dbt's state check
    changed, and this module must follow it."""
    source = parsed / "dbt_target"
    target = var / "dbt_target"
    packed = (source / PARTIAL_PARSE_FILE).read_bytes()
    stored, expected = _stored_profile_hash(packed), profile_hash(parsed)
    assert stored == expected, (
        f"dbt's partial parse in {source} holds profile hash {stored}, tests/dbt_parse.py computes {expected}: "
        "update profile_hash() to dbt's build_manifest_state_check"
    )
    # Both are hex digits of one length: the packed structure is unchanged.
    assert packed.count(stored.encode()) == 1, f"profile hash {stored} not found once in {source}"
    target.mkdir(parents=True, exist_ok=True)
    (target / PARTIAL_PARSE_FILE).write_bytes(
        packed.replace(stored.encode(), profile_hash(var, staged=staged).encode())
    )
    # Copied last, so newer than the project's files: the definitions' load takes it as current
    # (orchestration/defs/dbt/project.py).
    shutil.copyfile(source / "manifest.json", target / "manifest.json")
