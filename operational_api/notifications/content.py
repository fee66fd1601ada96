"""What each message says: read from the warehouse marts (through the dashboards' reader) and the store's alerts.

No measure is computed here: figures are rows of marts.fct_practice_metrics (value, the week before, status),
lists are rows of marts.fct_unsigned_notes / fct_appointments and the store's open alerts, and targets are the
metric dictionary's. Clients appear as initials and record numbers only (from dim_clients.display_name, which
is already first name + last initial); no names, dates of birth, diagnoses or note text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine, select

from dashboards.data.dictionary import _COLUMNS as _DICTIONARY_COLUMNS
from dashboards.data.dictionary import MetricDefinition
from dashboards.data.status import warehouse_status
from dashboards.data.warehouse import Reader
from mentalspace_platform.environment import Environment, current_environment
from mentalspace_platform.warehouse import Warehouse
from operational_api.db import session_scope
from operational_api.models import AlertStatus, ComplianceAlert, User
from operational_api.notifications.kinds import (
    CRITICAL_ALERT,
    DAILY_DIGEST,
    MONDAY_REPORT,
    SUPERVISION_REPORT,
)
from operational_api.notifications.render import ChartRenderer, Content, Section

# The Monday report's measures, in the order My Practice shows them.
REPORT_METRICS = (
    "kept_visit_rate",
    "no_show_rate",
    "cancellation_rate",
    "sessions_per_day",
    "same_day_documentation_rate",
    "unsigned_note_backlog",
)
TEAM_METRICS = ("kept_visit_rate", "no_show_rate", "unsigned_note_backlog")
TREND_METRIC = "kept_visit_rate"
TREND_WEEKS = 8
PLAN_ALERTS = (
    "TREATMENT_PLAN_MISSING",
    "TREATMENT_PLAN_OUT_OF_COMPLIANCE",
    "TREATMENT_PLAN_REVIEW_DUE",
    "TREATMENT_PLAN_REVIEW_REMINDER",
)
CONSENT_ALERTS = (
    "INFORMED_CONSENT_EXPIRING",
    "INFORMED_CONSENT_EXPIRED",
    "MINOR_WITHOUT_GUARDIAN_CONSENT",
    "TELEHEALTH_WITHOUT_CONSENT",
)
STAFF_ROLES = ("CLINICIAN", "SUPERVISOR")


@dataclass(frozen=True)
class Person:
    user_id: int
    email: str
    name: str
    role: str
    supervisor_id: int | None


# How a message names a client: always "(#<record number>)", after the initials when there are some. Other
# numbers in a message (note ids) are "#<id>" without the brackets, so the Sent mail page can tell which clients
# a message shows (for the audit log) by this pattern alone.
CLIENT_REFERENCE = re.compile(r"\(#(\d+)\)")


def initials(display_name: str | None, client_id: int) -> str:
    """'Maria G.' -> 'M.G. (#12)': the first letters of the first and last word, and the record number."""
    words = [w for w in (display_name or "").replace(".", " ").split() if w[:1].isalpha()]
    letters = "".join(f"{w[0].upper()}." for w in (words[:1] + words[1:][-1:]))
    return f"{letters} (#{client_id})" if letters else f"(#{client_id})"


def client_ids_named_in(text: str) -> list[int]:
    """The record numbers of the clients a rendered message names (see CLIENT_REFERENCE)."""
    return sorted({int(m) for m in CLIENT_REFERENCE.findall(text)})


def previous_working_day(day: dt.date) -> dt.date:
    back = 3 if day.weekday() == 0 else 2 if day.weekday() == 6 else 1
    return day - dt.timedelta(days=back)


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5


class Sources:
    """The store, the warehouse (one read connection for the run) and the metric dictionary."""

    def __init__(self, engine: Engine, env: Environment | None = None) -> None:
        self.engine = engine
        self.env = env or current_environment()
        self.reader = Reader(Warehouse(self.env))
        self._definitions: dict[str, MetricDefinition] | None = None

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Sources:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def q(self, sql: str, params: list | None = None) -> pl.DataFrame:
        return self.reader.query(sql, params)

    def definitions(self) -> dict[str, MetricDefinition]:
        if self._definitions is None:
            frame = self.q(f"select {_DICTIONARY_COLUMNS} from reference.metric_dictionary")
            result = {}
            for row in frame.iter_rows(named=True):
                grains = tuple(
                    g.strip() for g in (row.pop("period_grains") or "week,month").split(",") if g.strip()
                )
                result[row["metric_key"]] = MetricDefinition(**row, period_grains=grains)
            self._definitions = result
        return self._definitions

    def people(self) -> dict[int, Person]:
        """Active staff with an e-mail address (the store holds addresses; the warehouse does not need them)."""
        with session_scope(self.engine) as s:
            rows = s.execute(
                select(
                    User.id, User.email, User.first_name, User.last_name, User.role, User.supervisor_id
                ).where(User.is_active.is_(True), User.role != "CLIENT")
            ).all()
        return {r[0]: Person(r[0], r[1], f"{r[2]} {r[3]}", r[4], r[5]) for r in rows}

    def open_alerts(self, types: Iterable[str] | None = None) -> list[ComplianceAlert]:
        with session_scope(self.engine) as s:
            query = select(ComplianceAlert).where(ComplianceAlert.status != AlertStatus.RESOLVED)
            if types is not None:
                query = query.where(ComplianceAlert.alert_type.in_(list(types)))
            return list(s.scalars(query.order_by(ComplianceAlert.id)))

    def client_initials(self, client_ids: Iterable[int]) -> dict[int, str]:
        ids = sorted({int(i) for i in client_ids if i is not None})
        if not ids:
            return {}
        frame = self.q(
            f"select client_id, display_name from marts.dim_clients where client_id in ({', '.join(map(str, ids))})"
        )
        found = {
            r["client_id"]: initials(r["display_name"], r["client_id"]) for r in frame.iter_rows(named=True)
        }
        return {i: found.get(i, initials(None, i)) for i in ids}

    def metric_rows(self, keys: Iterable[str], grain: str, first: dt.date, last: dt.date) -> pl.DataFrame:
        keys = list(keys)
        frame = self.q(
            "select metric_key, scope, clinician_id, period_start, numerator, denominator, metric_value, "
            "previous_value, change_from_previous, rag_status from marts.fct_practice_metrics "
            f"where metric_key in ({', '.join('?' for _ in keys)}) and period_grain = ? "
            "and period_start between ? and ? order by metric_key, scope, clinician_id, period_start",
            [*keys, grain, first, last],
        )
        numeric = ("numerator", "denominator", "metric_value", "previous_value", "change_from_previous")
        return frame.with_columns(pl.col(c).cast(pl.Float64) for c in numeric)


# --- formatting ---------------------------------------------------------------------------------------------


def fmt(definition: MetricDefinition | None, value) -> str:
    if value is None:
        return "—"
    unit = definition.unit if definition else ""
    if unit == "percent":
        return f"{value:.1f}%"
    if float(value).is_integer():
        return f"{int(value)}{'' if unit in ('', 'sessions', 'notes', 'count') else ' ' + unit}"
    return f"{value:.1f}{'' if unit in ('', 'sessions', 'count') else ' ' + unit}"


def _status(row: dict | None) -> tuple[str, str | None]:
    if row is None:
        return "No data", None
    status = warehouse_status(row)
    return status.team_label, status.colour


def _day(d: dt.date) -> str:
    return f"{d:%a} {d.day} {d:%b %Y}"


# --- daily digest -------------------------------------------------------------------------------------------


def daily_digests(src: Sources, day: dt.date, recipients: list[Person]) -> list[Content]:
    """One digest per clinician for `day` (sent at 07:00): the last working day's figures, pending tasks, today."""
    if not recipients:
        return []
    ids = [p.user_id for p in recipients]
    id_list = ", ".join(str(i) for i in ids)
    before = previous_working_day(day)
    defs = src.definitions()
    rows = src.metric_rows(("kept_visit_rate", "sessions_per_day"), "day", before, before).filter(
        pl.col("scope") == "clinician"
    )
    by = {(r["metric_key"], r["clinician_id"]): r for r in rows.iter_rows(named=True)}
    signed = {
        r["clinician_id"]: r["notes"]
        for r in src.q(
            "select clinician_id, count(*) as notes from marts.fct_clinical_notes "
            f"where signed_date = ? and clinician_id in ({id_list}) group by clinician_id",
            [before],
        ).iter_rows(named=True)
    }
    unsigned = src.q(
        "select note_id, client_id, clinician_id, days_unsigned, signature_due_date, is_past_deadline "
        f"from marts.fct_unsigned_notes where clinician_id in ({id_list}) "
        "order by days_unsigned desc, note_id"
    )
    visits = src.q(
        "select appointment_id, client_id, clinician_id, cast(start_local_at as time) as start_time, "
        "appointment_type, is_telehealth, appointment_status from marts.fct_appointments "
        f"where appointment_date = ? and clinician_id in ({id_list}) "
        "and appointment_status not in ('RESCHEDULED', 'CANCELLED') order by start_local_at, appointment_id",
        [day],
    )
    alerts = src.open_alerts((*PLAN_ALERTS, *CONSENT_ALERTS))
    names = src.client_initials(
        [*unsigned["client_id"].to_list(), *visits["client_id"].to_list()]
        + [a.entity_id for a in alerts if a.entity_type == "client"]
    )
    out = []
    for person in recipients:
        cid = person.user_id
        kvr, sessions = by.get(("kept_visit_rate", cid)), by.get(("sessions_per_day", cid))
        kvr_text = (
            f"{fmt(defs['kept_visit_rate'], kvr['metric_value'])} ({int(kvr['numerator'])} of "
            f"{int(kvr['denominator'])} appointments kept)"
            if kvr and kvr["metric_value"] is not None
            else "no closed-out appointments"
        )
        figures = Section(
            f"{_day(before)}",
            ["Measure", "Figure"],
            [
                ["Kept Visit Rate", kvr_text],
                ["Sessions completed", str(int(sessions["numerator"])) if sessions else "0"],
                ["Notes signed", str(signed.get(cid, 0))],
            ],
        )
        mine = unsigned.filter(pl.col("clinician_id") == cid)
        notes = Section(
            "Unsigned notes",
            ["Note", "Client", "Days unsigned", "Sign by"],
            [
                [
                    f"#{r['note_id']}",
                    names.get(r["client_id"], initials(None, r["client_id"])),
                    str(r["days_unsigned"]) + (" (past deadline)" if r["is_past_deadline"] else ""),
                    _day(r["signature_due_date"]) if r["signature_due_date"] else "—",
                ]
                for r in mine.iter_rows(named=True)
            ],
            empty="None: every note is signed.",
        )
        plans = _alert_section(
            "Treatment plans due",
            [a for a in alerts if a.target_user_id == cid and a.alert_type in PLAN_ALERTS],
            names,
        )
        consents = _alert_section(
            "Consents expiring or missing",
            [a for a in alerts if a.target_user_id == cid and a.alert_type in CONSENT_ALERTS],
            names,
        )
        today = visits.filter(pl.col("clinician_id") == cid)
        schedule = Section(
            f"Today's appointments ({_day(day)})",
            ["Time", "Client", "Type", "Where"],
            [
                [
                    f"{r['start_time']:%H:%M}",
                    names.get(r["client_id"], initials(None, r["client_id"])),
                    r["appointment_type"].replace("_", " ").capitalize(),
                    "Telehealth" if r["is_telehealth"] else "In person",
                ]
                for r in today.iter_rows(named=True)
            ],
            empty="No appointments today.",
        )
        out.append(
            Content(
                kind=DAILY_DIGEST,
                recipient_user_id=cid,
                recipient_email=person.email,
                recipient_name=person.name,
                period=day.isoformat(),
                subject=f"Your day, {_day(day)}: {today.height} appointments, {mine.height} unsigned notes",
                title="Daily digest",
                subtitle=f"{_day(day)} · times in {src.env.practice_timezone}",
                greeting=f"Good morning, {person.name.split()[0]}.",
                sections=[figures, notes, plans, consents, schedule],
            )
        )
    return out


def _alert_section(heading: str, alerts: list[ComplianceAlert], names: dict[int, str]) -> Section:
    return Section(
        heading,
        ["Client", "What", "Due"],
        [
            [
                names.get(a.entity_id, initials(None, a.entity_id)) if a.entity_type == "client" else "—",
                a.action_required,
                _day(a.due_at.date()) if a.due_at else "—",
            ]
            for a in alerts
        ],
        empty="None.",
    )


# --- Monday report ------------------------------------------------------------------------------------------


def _figures_section(heading: str, defs, rows: dict[str, dict]) -> Section:
    table, colours = [], []
    for key in REPORT_METRICS:
        d, r = defs[key], rows.get(key)
        label, colour = _status(r)
        change = r["change_from_previous"] if r else None
        table.append(
            [
                d.label,
                fmt(d, r["metric_value"]) if r else "—",
                fmt(d, r["previous_value"]) if r else "—",
                "—" if change is None else f"{change:+.1f}",
                d.target_text,
                label,
            ]
        )
        colours.append(colour)
    return Section(
        heading,
        ["Measure", "Last week", "Week before", "Change", "Benchmark", "Status"],
        table,
        colours=colours,
        colour_column=5,
    )


def _chart(charts: ChartRenderer | None, series: pl.DataFrame, definition: MetricDefinition):
    if charts is None or series.is_empty():
        return None
    from dashboards.components.charts import metric_trend  # the dashboards' own chart

    return charts.png(metric_trend(series, definition))


def _team_chart(charts: ChartRenderer | None, rows: pl.DataFrame, definition: MetricDefinition):
    """The team's pooled value per week, as My Team pools it (dashboards.data.practice.pooled) and draws it."""
    if charts is None or rows.is_empty():
        return None
    from dashboards.components.charts import team_trend
    from dashboards.data.practice import pooled

    sums = (
        rows.group_by("period_start")
        .agg(pl.col("numerator").sum(), pl.col("denominator").sum())
        .sort("period_start")
    )
    series = sums.with_columns(
        pl.Series(
            "metric_value",
            [pooled(definition, n, d) for n, d in zip(sums["numerator"], sums["denominator"], strict=True)],
            dtype=pl.Float64,
        )
    )
    return charts.png(team_trend(series, definition))


def monday_reports(
    src: Sources,
    week_start: dt.date,
    clinicians: list[Person],
    supervisors: list[Person],
    admins: list[Person],
    charts: ChartRenderer | None,
) -> list[Content]:
    """Last week (Monday `week_start`) against the week before and the dictionary's benchmarks."""
    defs = src.definitions()
    first = week_start - dt.timedelta(weeks=TREND_WEEKS - 1)
    rows = src.metric_rows(REPORT_METRICS, "week", first, week_start)
    last = rows.filter(pl.col("period_start") == week_start)
    by_clinician: dict[int, dict[str, dict]] = defaultdict(dict)
    practice: dict[str, dict] = {}
    for r in last.iter_rows(named=True):
        if r["scope"] == "clinician":
            by_clinician[r["clinician_id"]][r["metric_key"]] = r
        else:
            practice[r["metric_key"]] = r
    trend = rows.filter(pl.col("metric_key") == TREND_METRIC).sort("period_start")
    alerts = src.open_alerts()
    names = src.client_initials(a.entity_id for a in alerts if a.entity_type == "client")
    people = src.people()
    label = f"week of {_day(week_start)}"
    chart_title = f"{defs[TREND_METRIC].label}, last {TREND_WEEKS} weeks"
    out = []

    def content(person: Person, sections, png, title) -> Content:
        return Content(
            kind=MONDAY_REPORT,
            recipient_user_id=person.user_id,
            recipient_email=person.email,
            recipient_name=person.name,
            period=week_start.isoformat(),
            subject=f"Monday report: {title}, {label}",
            title=f"Monday report: {title}",
            subtitle=f"{label[0].upper()}{label[1:]} (Monday to Sunday, {src.env.practice_timezone})",
            greeting=f"Good morning, {person.name.split()[0]}.",
            sections=sections,
            chart_title=chart_title,
            chart_png=png,
        )

    for person in clinicians:
        mine = [
            a for a in alerts if a.target_user_id == person.user_id and a.severity in ("CRITICAL", "WARNING")
        ]
        series = trend.filter((pl.col("scope") == "clinician") & (pl.col("clinician_id") == person.user_id))
        out.append(
            content(
                person,
                [
                    _figures_section("Your figures", defs, by_clinician.get(person.user_id, {})),
                    _actions_section(mine, names),
                ],
                _chart(charts, series.drop("metric_key", "scope", "clinician_id"), defs[TREND_METRIC]),
                "your practice",
            )
        )
    for person in supervisors:
        team = sorted(
            (p for p in people.values() if p.supervisor_id == person.user_id and p.role in STAFF_ROLES),
            key=lambda p: p.name,
        )
        table, colours = [], []
        for member in team:
            figures = by_clinician.get(member.user_id, {})
            cells = [member.name]
            worst = None
            for key in TEAM_METRICS:
                r = figures.get(key)
                cells.append(
                    f"{fmt(defs[key], r['metric_value'])} (was {fmt(defs[key], r['previous_value'])})"
                    if r
                    else "—"
                )
                if r is not None:
                    status = warehouse_status(r)
                    worst = status if worst is None else max(worst, status)
            cells.append(worst.team_label if worst is not None else "No data")
            colours.append(worst.colour if worst is not None else None)
            table.append(cells)
        team_ids = {m.user_id for m in team}
        team_alerts = [a for a in alerts if a.target_user_id in team_ids and a.severity == "CRITICAL"]
        out.append(
            content(
                person,
                [
                    Section(
                        "Your team, last week (and the week before)",
                        ["Clinician", *(defs[k].label for k in TEAM_METRICS), "Status"],
                        table,
                        empty="No supervisees.",
                        note="Benchmarks: "
                        + "; ".join(f"{defs[k].label} {defs[k].target_text}" for k in TEAM_METRICS),
                        colours=colours,
                        colour_column=len(TEAM_METRICS) + 1,
                    ),
                    _actions_section(team_alerts, names, people),
                ],
                _team_chart(
                    charts,
                    trend.filter(
                        (pl.col("scope") == "clinician") & pl.col("clinician_id").is_in(list(team_ids))
                    ),
                    defs[TREND_METRIC],
                ),
                "your team",
            )
        )
    if admins:
        series = trend.filter(pl.col("scope") == "practice").drop("metric_key", "scope", "clinician_id")
        png = _chart(charts, series, defs[TREND_METRIC])
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for a in alerts:
            counts[(a.severity, a.alert_type)] += 1
        order = {"CRITICAL": 0, "WARNING": 1, "INFO": 2}
        action_rows = [
            [severity.capitalize(), alert_type.replace("_", " ").capitalize(), str(n)]
            for (severity, alert_type), n in sorted(
                counts.items(), key=lambda kv: (order.get(kv[0][0], 3), -kv[1])
            )
        ]
        for person in admins:
            out.append(
                content(
                    person,
                    [
                        _figures_section("The practice", defs, practice),
                        Section(
                            "Action items: open alerts",
                            ["Severity", "Alert", "Open"],
                            action_rows,
                            empty="No open alerts.",
                        ),
                    ],
                    png,
                    "the practice",
                )
            )
    return out


def _actions_section(
    alerts: list[ComplianceAlert], names: dict[int, str], people: dict[int, Person] | None = None
) -> Section:
    ordered = sorted(alerts, key=lambda a: (a.severity != "CRITICAL", a.due_at or dt.datetime.max, a.id))
    columns = ["Severity", "Client", "What to do", "Due"]
    if people is not None:
        columns.insert(1, "Clinician")
    rows = []
    for a in ordered[:15]:
        row = [
            a.severity.capitalize(),
            names.get(a.entity_id, initials(None, a.entity_id)) if a.entity_type == "client" else "—",
            a.action_required,
            _day(a.due_at.date()) if a.due_at else "—",
        ]
        if people is not None:
            row.insert(1, people[a.target_user_id].name if a.target_user_id in people else "—")
        rows.append(row)
    note = f"{len(ordered) - 15} more on the Compliance alerts page." if len(ordered) > 15 else None
    return Section("Action items", columns, rows, empty="No open alerts.", note=note)


# --- supervision-hours report -------------------------------------------------------------------------------


def supervision_reports(
    src: Sources, month_start: dt.date, supervisors: list[Person], admins: list[Person]
) -> list[Content]:
    """Last month's supervision hours per supervisee against the hours their licence requires."""
    defs = src.definitions()
    d = defs["supervision_hours_logged"]
    rows = src.metric_rows(("supervision_hours_logged",), "month", month_start, month_start).filter(
        pl.col("scope") == "clinician"
    )
    by = {r["clinician_id"]: r for r in rows.iter_rows(named=True)}
    people = src.people()
    clinicians = src.q("select clinician_id, supervisor_id, license_type from marts.dim_clinicians")
    licence = {r["clinician_id"]: r["license_type"] for r in clinicians.iter_rows(named=True)}
    month = f"{month_start:%B %Y}"

    def table(members: list[Person], with_supervisor: bool) -> Section:
        body, colours = [], []
        for m in members:
            r = by.get(m.user_id)
            label, colour = _status(r)
            cells = [
                m.name,
                licence.get(m.user_id) or "—",
                fmt(None, r["numerator"]) if r else "0",
                fmt(None, r["denominator"]) if r and r["denominator"] is not None else "—",
                label,
            ]
            if with_supervisor:
                sup = people.get(m.supervisor_id) if m.supervisor_id else None
                cells.insert(1, sup.name if sup else "none")
            body.append(cells)
            colours.append(colour)
        columns = ["Supervisee", "Licence", "Hours logged", "Hours required", "Status"]
        if with_supervisor:
            columns.insert(1, "Supervisor")
        return Section(
            f"Supervision hours, {month}",
            columns,
            body,
            empty="No supervisees.",
            note=f"{d.label}: {d.counting_convention}" if d.counting_convention else None,
            colours=colours,
            colour_column=len(columns) - 1,
        )

    def content(person: Person, section: Section, title: str) -> Content:
        return Content(
            kind=SUPERVISION_REPORT,
            recipient_user_id=person.user_id,
            recipient_email=person.email,
            recipient_name=person.name,
            period=month_start.isoformat(),
            subject=f"Supervision hours, {month}: {title}",
            title=f"Supervision hours: {title}",
            subtitle=f"{month} ({src.env.practice_timezone})",
            greeting=f"Hello {person.name.split()[0]},",
            sections=[section],
        )

    out = []
    for person in supervisors:
        team = sorted((p for p in people.values() if p.supervisor_id == person.user_id), key=lambda p: p.name)
        out.append(content(person, table(team, False), "your supervisees"))
    required = sorted(
        (p for p in people.values() if p.user_id in by and (by[p.user_id]["denominator"] or 0) > 0),
        key=lambda p: p.name,
    )
    for person in admins:
        out.append(content(person, table(required, True), "the practice"))
    return out


# --- critical alerts ----------------------------------------------------------------------------------------


def alert_recipients(alert: ComplianceAlert) -> list[tuple[int, str]]:
    """Who is told, and as what: the person the alert is about, then the supervisor and the administrator it
    names (the warehouse already names an administrator when a clinician has no supervisor)."""
    out, seen = [], set()
    for user_id, role in (
        (alert.target_user_id, "you"),
        (alert.supervisor_id, "supervisor"),
        (alert.admin_id, "administrator"),
    ):
        if user_id is not None and user_id not in seen:
            seen.add(user_id)
            out.append((user_id, role))
    return out


ALERT_TITLES = {
    "UNSIGNED_NOTE_REMINDER": "A note is approaching the 7-day signature deadline",
    "SAFETY_PLAN_MISSING": "A high-risk client has no safety plan",
    "SUPERVISION_NOTE_UNSIGNED": "A supervision note is unsigned",
    "HIPAA_TRAINING_EXPIRING": "HIPAA training is about to expire",
}


def critical_alert(
    src_people: dict[int, Person],
    alert: ComplianceAlert,
    user_id: int,
    role: str,
    names: dict[int, str],
    timezone: str,
) -> Content | None:
    person = src_people.get(user_id)
    if person is None:
        return None
    about = src_people.get(alert.target_user_id)
    title = ALERT_TITLES.get(alert.alert_type, alert.alert_type.replace("_", " ").capitalize())
    rows = [["Alert", alert.message], ["Action", alert.action_required]]
    if alert.entity_type == "client" and alert.entity_id is not None:
        rows.insert(0, ["Client", names.get(alert.entity_id, initials(None, alert.entity_id))])
    if alert.due_at:
        rows.append(["Due", _day(alert.due_at.date())])
    if role != "you" and about is not None:
        rows.insert(0, ["Staff member", about.name])
    why = {
        "you": "This alert is about your work.",
        "supervisor": "You are told as the supervisor of the staff member it is about.",
        "administrator": "You are told as the practice administrator (escalation).",
    }[role]
    return Content(
        kind=CRITICAL_ALERT,
        recipient_user_id=user_id,
        recipient_email=person.email,
        recipient_name=person.name,
        period=alert.alert_key,
        subject=f"CRITICAL: {title}",
        title=title,
        subtitle=f"Critical compliance alert · {timezone}",
        greeting=why,
        sections=[Section("Details", [], rows)],
    )
