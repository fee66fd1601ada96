"""Front-desk loaders: the schedule for a date range, and the desk's work lists (appointments not closed
out, insurance not verified before upcoming visits, clients with incomplete demographics).

The work lists are the warehouse's own open conditions (`fct_compliance_alerts`), so the desk, the
alert list and the measures agree on what counts as stale, unverified or incomplete.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dashboards.data.cache import cached
from dashboards.data.warehouse import id_filter, query

NOT_CLOSED_OUT = "APPOINTMENT_STATUS_NOT_UPDATED"
INSURANCE_NOT_VERIFIED = "APPOINTMENT_INSURANCE_NOT_VERIFIED"
INCOMPLETE_DEMOGRAPHICS = "COMPLETED_WITH_INCOMPLETE_DEMOGRAPHICS"


@cached(max_entries=64)
def appointments(
    clinician_ids: tuple[int, ...] | None, first_day: dt.date, last_day: dt.date
) -> pl.DataFrame:
    """Appointments dated in [first_day, last_day] (rescheduled originals left out), in time order."""
    return query(
        "select a.appointment_id, a.appointment_date as date, "
        "cast(a.start_local_at as time) as start_time, a.client_id, cl.display_name as client, "
        "c.clinician_name as clinician, a.appointment_type, a.appointment_status as status, a.is_telehealth as telehealth "
        "from marts.fct_appointments as a "
        "left join marts.dim_clients as cl on a.client_id = cl.client_id "
        "left join marts.dim_clinicians as c on a.clinician_id = c.clinician_id "
        f"where a.appointment_date between ? and ? and a.appointment_status <> 'RESCHEDULED' "
        f"and {id_filter('a.clinician_id', clinician_ids)} "
        "order by a.start_local_at, c.clinician_name",
        [first_day, last_day],
    )


def status_counts(frame: pl.DataFrame) -> dict[str, int]:
    """How many appointments have each status."""
    if frame.is_empty():
        return {}
    return {row["status"]: row["len"] for row in frame.group_by("status").len().iter_rows(named=True)}


@cached(max_entries=16)
def appointment_work_list(clinician_ids: tuple[int, ...] | None, alert_type: str) -> pl.DataFrame:
    """Appointments with an open condition of this type, with when, who and what to do."""
    return query(
        "select a.appointment_id, a.appointment_date as date, cast(a.start_local_at as time) as start_time, "
        "a.client_id, cl.display_name as client, c.clinician_name as clinician, a.appointment_status as status, "
        "al.action_required as to_do, al.severity "
        "from marts.fct_compliance_alerts as al "
        "inner join marts.fct_appointments as a on al.entity_id = a.appointment_id "
        "left join marts.dim_clients as cl on a.client_id = cl.client_id "
        "left join marts.dim_clinicians as c on a.clinician_id = c.clinician_id "
        "where al.alert_type = ? and al.entity_type = 'appointment' "
        f"and {id_filter('a.clinician_id', clinician_ids)} order by a.start_local_at",
        [alert_type],
    )


@cached(max_entries=4)
def incomplete_demographics(clinician_ids: tuple[int, ...] | None) -> pl.DataFrame:
    """Clients seen for a completed session whose demographics miss required fields, with what is missing
    (dim_clients.missing_demographic_fields, the definition the alert and the demographics measures read)."""
    return query(
        "select cl.client_id, cl.display_name as client, c.clinician_name as clinician, cl.last_visit_date, "
        "cl.missing_demographic_fields as missing, al.action_required as to_do "
        "from marts.fct_compliance_alerts as al "
        "inner join marts.dim_clients as cl on al.entity_id = cl.client_id "
        "left join marts.dim_clinicians as c on cl.clinician_id = c.clinician_id "
        "where al.alert_type = ? and al.entity_type = 'client' "
        f"and {id_filter('cl.clinician_id', clinician_ids)} order by cl.last_visit_date desc",
        [INCOMPLETE_DEMOGRAPHICS],
    )
