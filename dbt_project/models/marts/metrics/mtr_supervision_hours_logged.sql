{#- Supervision Hours Logged = supervision hours of supervisees (clinicians whose license has a
    SUPERVISION_HOURS.hours_per_month rule) by session date; the denominator is the hours required: the rule
    for a month, and the rule x 12 / 52 for a week. Every active supervisee gets a row, so a month without
    supervision reads 0 of the required hours. -#}
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
        clinicians.hired_date,
        max(rules.rule_value) as required_hours_per_month
    from clinicians
    inner join rules on clinicians.license_type = rules.license_type
    where clinicians.is_active
    group by 1, 2
),

required as (
    select
        periods.period_grain,
        periods.period_start,
        supervisees.clinician_id,
        0 as numerator_part,
        case
            when periods.period_grain = 'month' then supervisees.required_hours_per_month
            else round(cast(supervisees.required_hours_per_month * 12 as numeric(18, 4)) / 52, 4)
        end as denominator_part
    from periods
    inner join supervisees
        on supervisees.hired_date is null or supervisees.hired_date <= periods.period_end
),

logged as (
    {% for grain in ['week', 'month'] %}
    select
        '{{ grain }}' as period_grain,
        {{ period_start_of(grain, 'sessions.session_date') }} as period_start,
        sessions.supervisee_id as clinician_id,
        sessions.duration_hours as numerator_part,
        0 as denominator_part
    from sessions
    inner join supervisees on sessions.supervisee_id = supervisees.clinician_id
    where sessions.session_date <= {{ as_of_date() }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

metric_parts as (
    select * from required
    union all
    select * from logged
),

{{ metric_rollup('supervision_hours_logged', 'metric_parts', value='numerator') }}
