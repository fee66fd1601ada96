"""The warehouse computes every measure row's green / amber / red once (fct_practice_metrics.rag_status); the
dashboards' Python rule is used only for a team's pooled figure. Both must give the same answer on every row."""

from __future__ import annotations

from dashboards.data import status
from dashboards.data.dictionary import definitions
from dashboards.data.warehouse import query


def test_python_status_rule_equals_the_warehouse_column_on_every_row(demo_env):
    defs = definitions()
    rows = query(
        "select metric_key, metric_value, numerator, denominator, previous_value, is_running_period, "
        "is_settled_period, deviation_benchmark, rag_status "
        "from marts.fct_practice_metrics"
    )
    assert rows.height > 1000
    differ = [
        r
        for r in rows.iter_rows(named=True)
        if status.metric_status(
            defs[r["metric_key"]],
            r["metric_value"],
            r["numerator"],
            r["denominator"],
            r["previous_value"],
            r["is_running_period"],
            r["deviation_benchmark"],
            r["is_settled_period"],
        ).name
        != r["rag_status"]
    ]
    assert differ == []
    seen = set(rows["rag_status"].unique())
    assert {"GOOD", "REVIEW", "URGENT"} <= seen


def test_a_page_figure_reads_the_warehouse_status(demo_env):
    row = query("select rag_status from marts.fct_practice_metrics where rag_status = 'URGENT' limit 1").row(
        0, named=True
    )
    assert status.warehouse_status(row) is status.Status.URGENT
    assert status.warehouse_status(None) is status.Status.UNKNOWN
