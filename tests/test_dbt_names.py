"""Names dbt turns into relations fit PostgreSQL's 63-character identifiers: a unit test runs against a relation
named after it, and a longer name fails only on PostgreSQL, after the DuckDB path has passed."""

from __future__ import annotations

import yaml

from tests.conftest import REPO_ROOT

POSTGRES_IDENTIFIER_LIMIT = 63


def test_unit_test_names_fit_a_postgresql_identifier():
    too_long = []
    for path in (REPO_ROOT / "dbt_project" / "models").rglob("*.yml"):
        for unit_test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []:
            if len(unit_test["name"]) > POSTGRES_IDENTIFIER_LIMIT:
                too_long.append(f"{path.relative_to(REPO_ROOT)}: {unit_test['name']}")
    assert not too_long, too_long
