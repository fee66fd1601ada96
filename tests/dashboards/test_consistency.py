"""Pages a practice manager can trust: one status rule per page, one figure per concept, labelled periods.

Hand-built frames check the Practice Overview rules (matrix status, action items) case by case; AppTests on the
demo practice check what the pages show.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

from dashboards.data.alerts import open_conditions
from dashboards.data.overview import GEORGIA_PANEL, MATRIX_KEYS, action_items, clinician_matrix, georgia_panel
from dashboards.data.practice import figure, load_my_practice, nudges
from dashboards.data.status import Status
from tests.dashboards.conftest import markdown_lines, shown_text
from tests.dashboards.test_pages import AS_OF, MONTH, WEEK, metrics_by_label, open_page, table_with, warehouse

NOVEMBER = dt.date(2026, 11, 1)
ALERT_COLUMNS = {
    "alert_key": pl.String,
    "alert_type": pl.String,
    "severity": pl.String,
    "target_user_id": pl.Int64,
    "person": pl.String,
    "message": pl.String,
    "action_required": pl.String,
    "is_admin_escalated": pl.Boolean,
    "due_date": pl.Date,
}


def _alerts(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame([{c: row.get(c) for c in ALERT_COLUMNS} for row in rows], schema=ALERT_COLUMNS)


def _metric_rows(statuses: dict[int, dict[str, str]], month: dt.date = NOVEMBER) -> pl.DataFrame:
    """fct_practice_metrics-like rows: one per clinician and matrix measure with the given rag_status."""
    return pl.DataFrame(
        [
            {
                "metric_key": key,
                "scope": "clinician",
                "clinician_id": cid,
                "period_start": month,
                "numerator": 1.0,
                "denominator": 1.0,
                "metric_value": 50.0,
                "previous_value": None,
                "change_from_previous": None,
                "rag_status": by_key.get(key, "GOOD"),
            }
            for cid, by_key in statuses.items()
            for key in MATRIX_KEYS
        ],
        schema_overrides={"previous_value": pl.Float64, "change_from_previous": pl.Float64},
    )


def _matrix(statuses: dict[int, dict[str, str]]) -> pl.DataFrame:
    people = pl.DataFrame(
        {
            "clinician_id": list(statuses),
            "clinician_name": [f"Clinician {c}" for c in statuses],
            "is_active": [True] * len(statuses),
        }
    )
    billing = pl.DataFrame(
        schema={"month_start": pl.Date, "clinician_id": pl.Int64, "revenue_amount": pl.Float64}
    )
    documentation = pl.DataFrame(schema={"clinician_id": pl.Int64, "signed_within_deadline_pct": pl.Float64})
    return clinician_matrix(_metric_rows(statuses), billing, documentation, people, NOVEMBER)


def _names_in(items, prefix: str) -> set[str]:
    line = next((text for _, text in items if text.startswith(prefix)), None)
    return set() if line is None else set(line.split(": ", 1)[1].split(", "))


# --- Practice Overview: the matrix status and the action items follow one rule ---------------------------------


def test_one_red_measure_is_coaching_not_a_performance_plan(demo_env):
    # Treatment plans red for everybody used to put every clinician on a performance plan, while the action
    # items (two reds) named only some of them.
    matrix = _matrix(
        {
            1: {"treatment_plan_currency": "URGENT"},
            2: {"treatment_plan_currency": "URGENT", "kept_visit_rate": "URGENT"},
            3: {},
            4: {"sessions_per_day": "REVIEW"},
        }
    )
    by_id = {r["clinician_id"]: r for r in matrix.iter_rows(named=True)}
    assert by_id[1]["status"] == "Needs coaching"
    assert by_id[2]["status"] == "Performance plan"
    assert by_id[3]["status"] == "Excellent"
    assert by_id[4]["status"] == "Needs coaching"
    assert by_id[2]["why"] == "past alert: KVR, Treatment plans"
    assert by_id[4]["why"] == "off benchmark: Sessions/day"
    items = action_items(_alerts(), matrix, {}, "November 2026, month to date")
    assert _names_in(items, "Performance plan") == {"Clinician 2"}
    assert _names_in(items, "Coaching") == {"Clinician 1", "Clinician 4"}
    assert _names_in(items, "Meeting every benchmark") == {"Clinician 3"}


def test_overview_action_items_name_exactly_the_matrix_statuses(demo_env):
    at = open_page(demo_env, "ADMIN", "practice_overview")
    matrix = table_with(at, "Clinician", "Status", "Why")
    status_of = {row["Clinician"]: list(row["Status"])[0] for _, row in matrix.iterrows()}
    lines = markdown_lines(at)
    for label, prefix in (
        ("Performance plan", "Performance plan recommended"),
        ("Needs coaching", "Coaching for"),
        ("Excellent", "Meeting every benchmark"),
    ):
        expected = {name for name, status in status_of.items() if status == label}
        line = next((text for text in lines if prefix in text), None)
        named = set() if line is None else set(shown_text(line).split(": ", 1)[1].split(", "))
        assert named == expected, label
        assert all(why for why in matrix["Why"]), "every status says which measures set it"


# --- Practice Overview: one figure per concept, same period as the card ---------------------------------------


def test_hipaa_action_item_does_not_contradict_todays_panel(demo_env):
    # Last month's threshold alert (93.3%) beside today's "HIPAA training current: all current".
    stale = _alerts(
        {
            "alert_key": "metric_threshold:hipaa_training_current:practice:practice:2026-10-01",
            "alert_type": "METRIC_THRESHOLD_HIPAA_TRAINING_CURRENT",
            "severity": "WARNING",
            "message": "HIPAA Training Current was 93.3 percent in 2026-10-01 (below 100.00) for the practice",
            "action_required": "Immediate training",
            "is_admin_escalated": True,
            "due_date": dt.date(2026, 10, 1),
        }
    )
    panel = georgia_panel(stale)
    assert panel.filter(pl.col("rule") == "HIPAA training current")["open_alerts"].item() == 0
    items = action_items(stale, _matrix({1: {}}))
    assert not [text for _, text in items if "HIPAA" in text]
    assert [rule for rule, _ in GEORGIA_PANEL if "HIPAA" in rule], (
        "the panel is where HIPAA training is shown"
    )


def test_collection_rate_action_item_is_the_cards_figure_and_period(demo_env):
    at = open_page(demo_env, "ADMIN", "practice_overview")
    card = next(m for m in at.metric if m.label.startswith("Collection Rate"))
    period = re.search(r"\((.+)\)", card.label).group(1)
    assert "settled" in period, "the settled month is labelled as such"
    mentions = [shown_text(line) for line in markdown_lines(at) if "Collection Rate" in line]
    assert mentions, "the demo's collection rate is past its alert threshold"
    for text in mentions:
        assert card.value in text and period in text, text


def test_days_in_ar_is_shown_once_on_the_overview(demo_env):
    at = open_page(demo_env, "ADMIN", "practice_overview")
    days = [
        m
        for m in at.metric
        if "days in ar" in f"{m.label} {m.value} {m.delta}".lower()
        or "days in accounts receivable" in m.label.lower()
    ]
    assert len(days) == 1, [(m.label, m.value, m.delta) for m in days]
    labels = [m.label for m in at.metric]
    assert len(labels) == len(set(labels)), "one card per concept"


def test_overview_cards_name_their_period(demo_env):
    at = open_page(demo_env, "ADMIN", "practice_overview")
    cards = metrics_by_label(at)
    assert "Days in Accounts Receivable (today)" in cards
    assert any(re.fullmatch(r"Collection Rate \(\w+ \d{4}, settled\)", label) for label in cards)
    assert any(
        s.value == f"Clinician performance matrix ({MONTH:%B %Y}, month to date)" for s in at.subheader
    )
    assert any(s.value == f"Practice scorecard ({MONTH:%B %Y}, month to date)" for s in at.subheader)


# --- My Practice: the KVR nudge asks only for what the week can still hold --------------------------------------


def _behind_on_kvr() -> int:
    """A demo clinician whose KVR for the week of 23 Nov is off benchmark."""
    return int(
        warehouse(
            "select min(clinician_id) from marts.fct_practice_metrics where metric_key = 'kept_visit_rate' "
            "and period_grain = 'week' and period_start = ? and scope = 'clinician' and rag_status <> 'GOOD'",
            [WEEK],
        ).item()
    )


def test_kvr_nudge_asks_for_nothing_when_the_week_has_no_slots_left(demo_env):
    clinician = _behind_on_kvr()
    sunday = WEEK + dt.timedelta(days=6)  # the week's last day: nothing left to book
    data = load_my_practice(clinician, None, sunday)
    assert data.week_figures["kept_visit_rate"].status is not Status.GOOD
    texts = [text for _, text in nudges(data, open_conditions((clinician,), None))]
    kvr = next(text for text in texts if text.startswith("Your KVR"))
    assert "more appointment" not in kvr, kvr
    assert "next week" in kvr


def test_kvr_nudge_never_asks_for_more_than_the_slots_left(demo_env):
    clinician = _behind_on_kvr()
    data = load_my_practice(clinician, None, AS_OF)
    left = int(
        warehouse(
            "select coalesce(sum(available_slots), 0) from intermediate.int_clinician_days_available "
            "where clinician_id = ? and calendar_date between ? and ?",
            [clinician, AS_OF + dt.timedelta(days=1), WEEK + dt.timedelta(days=6)],
        ).item()
    )
    assert data.slots_left_this_week == left
    kvr = next(
        text for _, text in nudges(data, open_conditions((clinician,), None)) if text.startswith("Your KVR")
    )
    asked = re.search(r"Keeping (\d+) more", kvr)
    assert asked is None or int(asked.group(1)) <= left, kvr


# --- KVR: the weekly and the month-to-date figure say which is which --------------------------------------------


def test_kvr_cards_name_their_period(demo_env):
    mine = metrics_by_label(open_page(demo_env, "CLINICIAN", "my_practice"))
    assert "KVR (this week)" in mine
    assert any(re.fullmatch(r"Reimbursement \(\w+ \d{4}, settled\)", label) for label in mine)
    practice = metrics_by_label(open_page(demo_env, "ADMIN", "practice_overview"))
    assert "Overall KVR (month to date)" in practice


# --- Across pages: the same concept for the same clinician and period is the same number everywhere ----------


def _cell(value) -> float | None:
    """A table cell as a number: coloured cells are one-pill lists of text ("75.4", "1,234.5")."""
    if value is None:
        return None
    if not isinstance(value, (int, float, str)):
        value = list(value)[0] if len(value) else None
        if value is None:
            return None
    if isinstance(value, str):
        value = value.replace(",", "")
    number = float(value)
    return None if number != number else number  # NaN: an empty cell


def _matrix_figures(at) -> dict:
    table = table_with(at, "Clinician", "Late notes", "Revenue ($)")
    shown = {}
    for _, row in table.iterrows():
        name = row["Clinician"]
        shown[("KVR, month to date", name)] = _cell(row["KVR %"])
        shown[("notes unsigned past the deadline, today", name)] = _cell(row["Late notes"])
        shown[("same-day documentation, month to date", name)] = _cell(row["Same-day %"])
        shown[("revenue, month to date", name)] = round(_cell(row["Revenue ($)"]), 2)
    # Cards round dollars to the dollar; tables show cents: compared at the card's precision.
    shown[("practice revenue in dollars, month to date", "Practice")] = _dollars(
        metrics_by_label(at)["Revenue this month"]
    )
    panel = next(shown_text(line) for line in markdown_lines(at) if "Notes unsigned past 7 days" in line)
    for name, count in re.findall(r"([A-Z][\w' -]+?): (\d+)", panel.split("(", 1)[-1]):
        shown[("notes unsigned past the deadline, today", name)] = float(count)
    return shown


def _team_figures(at) -> dict:
    table = table_with(at, "Clinician", "KVR %", "Notes > 7 days")
    shown = {}
    for _, row in table.iterrows():
        name = row["Clinician"]
        shown[("KVR, month to date", name)] = _cell(row["KVR %"])
        shown[("notes unsigned past the deadline, today", name)] = _cell(row["Notes > 7 days"])
        shown[("same-day documentation, month to date", name)] = _cell(row["Same-day doc %"])
    return shown


def _my_practice_figures(at, name: str) -> dict:
    cards = metrics_by_label(at)
    shown = {
        ("notes unsigned past the deadline, today", name): float(cards["Notes unsigned past 7 days (today)"]),
        ("same-day documentation, month to date", name): _cell(cards["Same-day documentation"].rstrip("%")),
    }
    nudge = next((shown_text(line) for line in markdown_lines(at) if "pending signature" in line), "")
    past = re.search(r"; (\d+) past the Georgia 7-day deadline", nudge)
    if "pending signature" in nudge:
        # The nudge and the card count the same notes; no "past the deadline" part means none.
        shown[("notes unsigned past the deadline (nudge), today", name)] = (
            float(past.group(1)) if past else 0.0
        )
    return shown


def _alert_figures(at) -> dict:
    table = table_with(at, "person", "alert_type")
    overdue = table[table["alert_type"].isin(["UNSIGNED_NOTE_OVERDUE", "UNSIGNED_NOTE_BILLING_HOLD"])]
    return {
        ("notes unsigned past the deadline, today", name): float(count)
        for name, count in overdue.groupby("person").size().items()
    }


def _report_figures(at) -> dict:
    at.segmented_control(key="rp_range").set_value("This month").run()
    table = table_with(at, "clinician", "revenue", "charges_paid")
    shown = {
        ("revenue, month to date", row["clinician"]): round(float(row["revenue"]), 2)
        for _, row in table.iterrows()
    }
    shown[("practice revenue in dollars, month to date", "Practice")] = _dollars(
        metrics_by_label(at)["Revenue (payments applied)"]
    )
    return shown


def _dollars(text: str) -> float:
    return float(round(float(text.replace("$", "").replace(",", ""))))


def _names() -> dict[int, str]:
    return dict(warehouse("select clinician_id, clinician_name from marts.dim_clinicians").iter_rows())


def _my_practice_for(var, role: str, clinician_id: int | None) -> tuple:
    at = open_page(var, role, "my_practice")
    if clinician_id is not None:
        at.selectbox(key="mp_clinician").set_value(clinician_id).run()
    me = clinician_id if clinician_id is not None else at.session_state["auth_user"].user_id
    return at, _names()[me]


def test_the_same_concept_shows_the_same_number_on_every_page(demo_env):
    seen: dict[tuple, dict[str, float | None]] = {}

    def record(where: str, figures: dict) -> None:
        for (concept, name), value in figures.items():
            concept = concept.replace(" (nudge)", "")
            seen.setdefault((concept, name), {})[where] = value

    # Administrator: every page, and two clinicians' My Practice.
    record("ADMIN practice_overview", _matrix_figures(open_page(demo_env, "ADMIN", "practice_overview")))
    record("ADMIN my_team", _team_figures(open_page(demo_env, "ADMIN", "my_team")))
    record("ADMIN reports", _report_figures(open_page(demo_env, "ADMIN", "reports")))
    record("ADMIN compliance_alerts", _alert_figures(open_page(demo_env, "ADMIN", "compliance_alerts")))
    backlog = warehouse(
        "select clinician_id from marts.fct_clinical_notes where not is_signed and "
        "signature_due_date < ? group by 1 order by count(*) desc, 1 limit 2",
        [AS_OF],
    )
    for cid in backlog["clinician_id"]:
        at, name = _my_practice_for(demo_env, "ADMIN", int(cid))
        record(f"ADMIN my_practice {name}", _my_practice_figures(at, name))
    # Supervisor: their team, their own page, a supervisee's page, their alerts.
    record("SUPERVISOR my_team", _team_figures(open_page(demo_env, "SUPERVISOR", "my_team")))
    record(
        "SUPERVISOR compliance_alerts", _alert_figures(open_page(demo_env, "SUPERVISOR", "compliance_alerts"))
    )
    at, name = _my_practice_for(demo_env, "SUPERVISOR", None)
    record("SUPERVISOR my_practice", _my_practice_figures(at, name))
    me = at.session_state["auth_user"].user_id
    supervisee = int(
        warehouse(
            "select min(clinician_id) from marts.dim_clinicians where supervisor_id = ? "
            "and clinician_id <> ? and is_active",
            [me, me],
        ).item()
    )
    at, name = _my_practice_for(demo_env, "SUPERVISOR", supervisee)
    record("SUPERVISOR my_practice supervisee", _my_practice_figures(at, name))
    # Clinician: their own page and alerts.
    at, name = _my_practice_for(demo_env, "CLINICIAN", None)
    record("CLINICIAN my_practice", _my_practice_figures(at, name))
    record(
        "CLINICIAN compliance_alerts", _alert_figures(open_page(demo_env, "CLINICIAN", "compliance_alerts"))
    )

    overlapping = {key: by_page for key, by_page in seen.items() if len(by_page) > 1}
    # Every concept collected is shown on two pages or more for some clinician (else the test proves nothing).
    assert {concept for concept, _ in overlapping} == {concept for concept, _ in seen}
    differ = {
        key: by_page
        for key, by_page in overlapping.items()
        if len({None if v is None else round(v, 1) for v in by_page.values()}) > 1
    }
    assert differ == {}


def test_days_in_ar_is_one_action_item_with_its_month_named(demo_env):
    # The PRD escalation and last month's threshold alert both said "days in AR"; the card said it a third time.
    alerts = _alerts(
        {
            "alert_key": "days_in_ar_over_45:practice:0:2026-10-01",
            "alert_type": "DAYS_IN_AR_OVER_45",
            "severity": "WARNING",
            "message": "Days in accounts receivable reached 47.2 last month",
            "action_required": "Administrator: review collections and the AR aging report",
            "is_admin_escalated": True,
            "due_date": dt.date(2026, 10, 1),
        },
        {
            "alert_key": "metric_threshold:days_in_ar:practice:practice:2026-10-01",
            "alert_type": "METRIC_THRESHOLD_DAYS_IN_AR",
            "severity": "WARNING",
            "message": "Days in Accounts Receivable was 47.2 days in 2026-10-01 (above 45.00) for the practice",
            "action_required": "Collections review",
            "is_admin_escalated": True,
            "due_date": dt.date(2026, 10, 1),
        },
    )
    rows = pl.DataFrame(
        [
            {
                "metric_key": "days_in_ar",
                "scope": "practice",
                "clinician_id": None,
                "period_start": NOVEMBER,
                "numerator": None,
                "denominator": None,
                "metric_value": 48.0,
                "previous_value": 47.2,
                "change_from_previous": 0.8,
                "rag_status": "URGENT",
            }
        ],
        schema_overrides={"clinician_id": pl.Int64, "numerator": pl.Float64, "denominator": pl.Float64},
    )
    card = figure(rows, "days_in_ar", NOVEMBER, True)
    items = action_items(alerts, _matrix({1: {}}), {"days_in_ar": (card, "month to date")})
    about = [text for _, text in items if "days in a" in text.lower()]
    assert about == [
        "Days in accounts receivable reached 47.2 in October 2026 → Administrator: review collections "
        "and the AR aging report"
    ]
