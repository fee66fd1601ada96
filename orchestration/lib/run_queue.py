"""Run tags the production run queue limits (deploy/dagster.yaml and deploy/helm/values.yaml, tag_concurrency_limits).

The embedded instance launches runs at once and ignores them; a production instance (QueuedRunCoordinator) starts a
queued run only while its tags' limits allow, so the daemon never piles up work that would wait on locks anyway:

- warehouse refresh: one at a time (a second would rebuild the same marts behind the first);
- ERA posting: a few files at once (each run posts one 835 in its own transaction);
- AdvancedMD: one run at a time per office key, since the vendor's rate limits are per office key (the
  steps also share the ``advancedmd_api`` pool). One deployment serves one office key (the AMD_* variables,
  read only when a run starts), so the value names the office's deployment, never the key itself.

tests/orchestration/test_deploy.py keeps these keys equal to the deployment files' limits.
"""

from __future__ import annotations

WAREHOUSE_REFRESH_TAG = "mentalspace/warehouse_refresh"
ERA_POSTING_TAG = "mentalspace/era_posting"
ADVANCEDMD_OFFICE_TAG = "mentalspace/advancedmd_office"

WAREHOUSE_REFRESH_TAGS = {WAREHOUSE_REFRESH_TAG: "true"}
ERA_POSTING_TAGS = {ERA_POSTING_TAG: "true"}
ADVANCEDMD_RUN_TAGS = {ADVANCEDMD_OFFICE_TAG: "primary"}
