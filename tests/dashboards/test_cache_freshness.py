"""Cached figures give way to a rebuilt warehouse on the next page run, not after the cache's TTL.

The demo's var/ folder is copied so this test can change its warehouse without touching what the other
dashboard tests read.
"""

from __future__ import annotations

import duckdb

from dashboards.data import cache
from dashboards.data.warehouse import reader
from tests.conftest import copy_practice
from tests.dashboards.conftest import signed_in_app


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_a_rebuilt_warehouse_replaces_cached_figures_on_the_next_page_run(demo_env, tmp_path, monkeypatch):
    var = tmp_path / "var"
    copy_practice(demo_env, var)
    monkeypatch.setenv("MENTALSPACE_VAR_DIR", str(var))
    warehouse_file = var / "warehouse.duckdb"
    with duckdb.connect(str(warehouse_file), read_only=True) as con:
        assert (
            con.execute("select count(*) from reference.warehouse_builds where command = 'build'").fetchone()[
                0
            ]
            >= 1
        )

    monkeypatch.setattr(cache, "VERSION_CHECK_SECONDS", 3600)
    at = signed_in_app(var, "ADMIN")
    at.switch_page("app_pages/practice_overview.py").run()
    assert not at.exception, at.exception
    assert "Figures as of Wed 25 Nov 2026" in captions(at)

    reader().close()  # DuckDB lets nobody write while the dashboards hold the file
    with duckdb.connect(str(warehouse_file)) as con:  # what a rebuild for the next day leaves behind
        con.execute("update marts.fct_compliance_alerts set as_of_date = date '2026-11-26'")
    at.run()
    assert "Figures as of Wed 25 Nov 2026" in captions(at), "within the check interval the cache stands"

    monkeypatch.setattr(cache, "VERSION_CHECK_SECONDS", 0)
    at.run()
    assert not at.exception, at.exception
    assert "Figures as of Thu 26 Nov 2026" in captions(at)
    assert not cache.clear_if_warehouse_changed(), "an unchanged warehouse keeps the cache"
