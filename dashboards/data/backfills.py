"""Backfills for administrators, through the Dagster webserver's GraphQL API (never its unauthenticated UI).

The dashboards are the authenticated surface: every function here takes the signed-in user and refuses anyone
but an administrator (recorded in the audit log, like every launch). The webserver itself stays on loopback
(`mentalspace serve` binds 127.0.0.1) or behind the practice's SSO proxy; `MENTALSPACE_DAGSTER_URL` says where it is.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import httpx

from dashboards import audit_trail
from dashboards.data.cache import cached
from operational_api.auth import SignedInUser
from operational_api.errors import PlatformError

ADMIN = "ADMIN"
DEFAULT_URL = "http://127.0.0.1:3000"
TIMEOUT_SECONDS = 30.0
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

_ASSETS = """
query BackfillableAssets {
  assetNodes { assetKey { path } groupName isPartitioned partitionKeys }
}
"""
_LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
_PROGRESS = """
query Progress($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions runs(limit: 1000) { runId status } }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


class BackfillRefused(PermissionError):
    """Only administrators launch or watch backfills."""


@dataclass(frozen=True)
class BackfillGroup:
    name: str
    assets: tuple[tuple[str, ...], ...]  # asset key paths
    partition_keys: tuple[str, ...]  # the keys every asset of the group has, in order


@dataclass(frozen=True)
class BackfillProgress:
    backfill_id: str
    status: str
    partitions: int
    runs: dict[str, int]  # run status -> count

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def dagster_url() -> str:
    return os.environ.get("MENTALSPACE_DAGSTER_URL", DEFAULT_URL).rstrip("/")


def _require_admin(user: SignedInUser | None, action: str, **detail) -> None:
    if user is None or user.role != ADMIN:
        audit_trail.record(user, action, entity="dagster_backfill", outcome="refused", detail=detail or None)
        raise BackfillRefused("backfills are for administrators")


def _graphql(query: str, variables: dict | None = None, base: str | None = None) -> dict:
    url = f"{base or dagster_url()}/graphql"
    try:
        response = httpx.post(
            url, json={"query": query, "variables": variables or {}}, timeout=TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        raise PlatformError(
            f"cannot reach the Dagster webserver at {dagster_url()}: {type(exc).__name__}"
        ) from None
    if response.status_code != 200:
        raise PlatformError(f"the Dagster webserver at {dagster_url()} answered HTTP {response.status_code}")
    body = response.json()
    if body.get("errors"):
        raise PlatformError(
            f"Dagster refused the request: {body['errors'][0].get('message', 'unknown error')}"
        )
    return body["data"]


def backfill_groups(user: SignedInUser | None) -> list[BackfillGroup]:
    """Asset groups whose assets are partitioned by day (or share partition keys), for the page's choices."""
    _require_admin(user, "backfill.list")
    return _groups(dagster_url())


@cached(max_entries=4, ttl=60)
def _groups(url: str) -> list[BackfillGroup]:
    # Cached a minute per webserver: the asset graph changes with deployments, not between clicks.
    nodes = _graphql(_ASSETS, base=url)["assetNodes"]
    groups: dict[str, list[dict]] = {}
    for node in nodes:
        if node["isPartitioned"] and node["partitionKeys"]:
            groups.setdefault(node["groupName"], []).append(node)
    found = []
    for name, members in sorted(groups.items()):
        shared = set(members[0]["partitionKeys"]).intersection(
            *(set(m["partitionKeys"]) for m in members[1:])
        )
        keys = tuple(k for k in members[0]["partitionKeys"] if k in shared)
        if keys:
            found.append(BackfillGroup(name, tuple(tuple(m["assetKey"]["path"]) for m in members), keys))
    return found


def covering_partitions(group: BackfillGroup, first: dt.date, last: dt.date) -> list[str]:
    """The group's partitions whose time window overlaps the days `first`..`last`: those days for a daily group,
    the months covering them for a monthly one (the measures: a week inside November is November's partition)."""
    starts = [dt.date.fromisoformat(k[:10]) for k in group.partition_keys]
    keys = []
    for i, (key, start) in enumerate(zip(group.partition_keys, starts, strict=True)):
        # A window runs to the next key's start; the newest one is as long as the one before it (a month's
        # length varies: a monthly one runs to the next month's first).
        step = (start - starts[i - 1]) if i else dt.timedelta(days=1)
        if i + 1 < len(starts):
            end = starts[i + 1]
        elif step >= dt.timedelta(days=28):
            end = (start + dt.timedelta(days=32)).replace(day=1)
        else:
            end = start + step
        if start <= last and end > first:
            keys.append(key)
    return keys


def launch(user: SignedInUser | None, group: BackfillGroup, first: dt.date, last: dt.date) -> str:
    """Launch a backfill of the group's partitions covering `first` to `last`; returns its id."""
    detail = {"group": group.name, "from": first.isoformat(), "to": last.isoformat()}
    _require_admin(user, "backfill.launch", **detail)
    keys = covering_partitions(group, first, last)
    if not keys:
        raise PlatformError(f"{group.name} has no partitions from {first} to {last}")
    params = {
        "assetSelection": [{"path": list(path)} for path in group.assets],
        "partitionNames": keys,
        "title": f"{group.name} {first}..{last}",
        "tags": [{"key": "mentalspace/launched_by", "value": f"user:{user.user_id}"}],
    }
    answer = _graphql(_LAUNCH, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        audit_trail.record(
            user,
            "backfill.launch",
            entity="dagster_backfill",
            outcome="failed",
            detail={**detail, "reason": answer["__typename"]},
        )
        raise PlatformError(
            f"Dagster did not launch the backfill: {answer.get('message', answer['__typename'])}"
        )
    backfill_id = answer["backfillId"]
    audit_trail.record(
        user,
        "backfill.launch",
        entity="dagster_backfill",
        entity_id=backfill_id,
        detail={**detail, "partitions": len(keys), "first_partition": keys[0], "last_partition": keys[-1]},
    )
    return backfill_id


def progress(user: SignedInUser | None, backfill_id: str) -> BackfillProgress:
    _require_admin(user, "backfill.progress", backfill_id=backfill_id)
    answer = _graphql(_PROGRESS, {"id": backfill_id})["partitionBackfillOrError"]
    if answer["__typename"] != "PartitionBackfill":
        raise PlatformError(f"backfill {backfill_id}: {answer.get('message', answer['__typename'])}")
    runs: dict[str, int] = {}
    for run in answer["runs"]:
        runs[run["status"]] = runs.get(run["status"], 0) + 1
    return BackfillProgress(backfill_id, answer["status"], int(answer["numPartitions"] or 0), runs)
