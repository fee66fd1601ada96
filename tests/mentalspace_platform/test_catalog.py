"""The analysts' catalog: written by every build, served over HTTP, and every mart column described."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import polars as pl
import pytest

from mentalspace_platform.catalog import NOT_GENERATED, SITE_FILES, fingerprint
from mentalspace_platform.environment import current_environment
from mentalspace_platform.warehouse import Warehouse
from tests.conftest import REPO_ROOT
from tests.servers import free_port, wait_for_http

MART_MODEL = "model.mentalspace.fct_practice_metrics"


def _site(var: Path) -> tuple[dict, dict]:
    folder = var / "catalog"
    assert all((folder / name).exists() for name in SITE_FILES), f"no catalog site in {folder}"
    return json.loads((folder / "manifest.json").read_text()), json.loads(
        (folder / "catalog.json").read_text()
    )


def test_every_mart_model_and_column_of_the_built_warehouse_has_a_description(built_practice):
    # The warehouse's own columns (catalog.json), not only those the YAML lists: a column a model adds without
    # documenting it fails here.
    manifest, catalog = _site(built_practice)
    marts = {uid: node for uid, node in catalog["nodes"].items() if node["metadata"]["schema"] == "marts"}
    assert MART_MODEL in marts and len(marts) > 50
    undescribed = []
    for uid, node in sorted(marts.items()):
        model = manifest["nodes"][uid]
        if not model["description"].strip():
            undescribed.append(f"{model['original_file_path']}: model {model['name']}")
        documented = {name.lower(): column["description"] for name, column in model["columns"].items()}
        undescribed += [
            f"{model['original_file_path']}: {model['name']}.{column}"
            for column in node["columns"]
            if not documented.get(column.lower(), "").strip()
        ]
    assert not undescribed, "mart models or columns without a description:\n" + "\n".join(undescribed)


@contextmanager
def _catalog_server(folder: Path) -> Iterator[str]:
    """`python -m mentalspace_platform.catalog` (what `mentalspace serve` starts) on a free port; its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mentalspace_platform.catalog", "--port", str(port), "--dir", str(folder)],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/favicon.ico", server, "the catalog server")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_served_catalog_answers_over_http_and_lists_a_mart_model(built_practice):
    with _catalog_server(built_practice / "catalog") as base:
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        manifest = httpx.get(f"{base}/manifest.json", timeout=10).json()
        catalog = httpx.get(f"{base}/catalog.json", timeout=10).json()
    model = manifest["nodes"][MART_MODEL]
    assert model["description"].startswith("One row per metric")
    assert "metric_value" in catalog["nodes"][MART_MODEL]["columns"]


def test_before_the_first_build_the_catalog_says_how_to_get_one(tmp_path):
    with _catalog_server(tmp_path / "none") as base:
        page = httpx.get(f"{base}/", timeout=10)
    assert page.status_code == 503
    assert page.text == NOT_GENERATED


@pytest.mark.parametrize("warehouse_kind", ["duckdb", "postgres"])
def test_the_catalog_is_rewritten_when_a_column_changes_and_only_then(
    warehouse_kind, var_dir, request, monkeypatch
):
    if warehouse_kind == "postgres":
        url = request.getfixturevalue("pg_database")
        monkeypatch.setenv("DBT_TARGET", "prod")
        monkeypatch.setenv("MENTALSPACE_WAREHOUSE_URL", url)
    env = current_environment()
    warehouse = Warehouse(env)
    warehouse.replace_table("marts", "fct_example", [pl.DataFrame({"example_id": [1]})])
    before = fingerprint(env)
    assert fingerprint(env) == before  # nothing changed: the build skips dbt docs generate
    warehouse.replace_table("marts", "fct_example", [pl.DataFrame({"example_id": [1], "amount": [2.5]})])
    assert fingerprint(env) != before
