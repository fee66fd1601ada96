{#- A client is judged on their latest engagement, however much later: no window of periods could
    cover a change, so every build recomputes every period (macros/metric_window.sql). -#}
{{ config(meta={'recompute_every_period': true}) }}

{#- Client Retention Rate (90 days) = clients still engaged 90 days after intake (a completed visit on or
    after day 90, or an appointment booked for then that is still open) / clients whose day 90 fell in the
    period, reported in the period of day 90 (intake date, else first visit). -#}
with

clients as (
    select * from {{ ref('dim_clients') }}
),

appointments as (
    select * from {{ ref('fct_appointments') }}
),

periods as (
    select * from {{ ref('int_periods_enumerated') }}
),

engagement as (
    select
        client_id,
        max(appointment_date) as last_engaged_date
    from appointments
    where appointment_status in ('COMPLETED', 'SCHEDULED', 'CONFIRMED', 'CHECKED_IN')
    group by 1
),

cohort as (
    select
        clients.client_id,
        clients.clinician_id,
        cast(coalesce(clients.intake_date, clients.first_visit_date) + {{ var('client_retention_days', 90) }} as date)
            as retention_date,
        engagement.last_engaged_date
    from clients
    left join engagement on clients.client_id = engagement.client_id
    where coalesce(clients.intake_date, clients.first_visit_date) is not null
),

metric_events as (
    select
        client_id,
        clinician_id,
        retention_date,
        case when last_engaged_date >= retention_date then 1 else 0 end as is_retained
    from cohort
    where retention_date <= {{ as_of_date() }}
        and retention_date >= (
            select min(periods.period_start) from periods
            where periods.period_grain = 'day'
        )
),

{{ metric_from_events('client_retention_90_day', 'metric_events', 'retention_date', 'is_retained', '1') }}
