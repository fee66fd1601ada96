{#- One row per week or month of the period spine and supervisee (active clinician whose license has a
    SUPERVISION_HOURS.hours_per_month rule, hired by the period's end), with the hours required (the rule per month,
    rule x 12 / 52 per week) and the hours logged in the period up to its as-of date (0 when none). Only periods of
    the spine: hours logged before it have no requirement to count against. The one definition read by the
    Supervision Hours Logged measure and the supervision-hours alert. -#}
{{ config(materialized='table') }}

with

periods as (
    select * from {{ ref('int_periods_enumerated') }}
    where period_grain in ('week', 'month')
),

clinicians as (
    select * from {{ ref('dim_clinicians') }}
),

rules as (
    select * from {{ ref('stg_operational__compliance_rules') }}
    where rule_type = 'SUPERVISION_HOURS' and parameter = 'hours_per_month' and is_active
),

sessions as (
    select * from {{ ref('stg_operational__supervision_sessions') }}
),

supervisees as (
    select
        clinicians.clinician_id,
        clinicians.supervisor_id,
        clinicians.hired_date,
        max(rules.rule_value) as required_hours_per_month
    from clinicians
    inner join rules on clinicians.license_type = rules.license_type
    where clinicians.is_active
    group by 1, 2, 3
),

required as (
    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.as_of_date,
        periods.is_current_period,
        supervisees.clinician_id,
        supervisees.supervisor_id,
        case
            when periods.period_grain = 'month' then supervisees.required_hours_per_month
            else round(cast(supervisees.required_hours_per_month * 12 as numeric(18, 4)) / 52, 4)
        end as required_hours
    from periods
    inner join supervisees
        on supervisees.hired_date is null or supervisees.hired_date <= periods.period_end
),

logged as (
    select
        required.period_grain,
        required.period_start,
        required.clinician_id,
        sum(sessions.duration_hours) as logged_hours
    from required
    inner join sessions
        on required.clinician_id = sessions.supervisee_id
        and sessions.session_date >= required.period_start
        and sessions.session_date <= required.as_of_date
    group by 1, 2, 3
),

final as (
    select
        required.period_grain,
        required.period_start,
        required.period_end,
        required.as_of_date,
        required.is_current_period,
        required.clinician_id,
        required.supervisor_id,
        required.required_hours,
        coalesce(logged.logged_hours, 0) as logged_hours
    from required
    left join logged
        on required.period_grain = logged.period_grain
        and required.period_start = logged.period_start
        and required.clinician_id = logged.clinician_id
)

select * from final
