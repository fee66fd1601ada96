{#- One row per week or month and staff member on its as-of date (active, every role but CLIENT, hired by then),
    with whether a HIPAA training is current then: completed by that date and before the earlier of its stored
    expiry and completion + HIPAA_TRAINING.validity_days (expired on that date). The one definition read by the
    HIPAA Training Current measure and the HIPAA training alerts. -#}
{{ config(materialized='table') }}

with

periods as (
    select * from {{ ref('int_periods_enumerated') }}
    where period_grain in ('week', 'month')
),

users as (
    select * from {{ ref('stg_operational__users') }}
),

trainings as (
    select * from {{ ref('stg_operational__hipaa_trainings') }}
),

staff as (
    select
        user_id,
        hired_date
    from users
    where role <> 'CLIENT' and is_active
),

training_validity as (
    select
        user_id,
        completed_date,
        case
            when expires_date is not null
                and expires_date < completed_date + cast({{ rule_value('HIPAA_TRAINING', 'validity_days') }} as integer)
                then expires_date
            else cast(completed_date + cast({{ rule_value('HIPAA_TRAINING', 'validity_days') }} as integer) as date)
        end as expires_date
    from trainings
),

staff_periods as (
    select
        periods.period_grain,
        periods.period_start,
        periods.as_of_date,
        periods.is_current_period,
        staff.user_id
    from periods
    inner join staff on staff.hired_date is null or staff.hired_date <= periods.as_of_date
),

completed_by_then as (
    select
        staff_periods.period_grain,
        staff_periods.period_start,
        staff_periods.user_id,
        max(case when training_validity.expires_date > staff_periods.as_of_date then training_validity.expires_date end)
            as current_until_date,
        max(case when training_validity.expires_date <= staff_periods.as_of_date then training_validity.expires_date end)
            as last_lapsed_date
    from staff_periods
    inner join training_validity
        on staff_periods.user_id = training_validity.user_id
        and training_validity.completed_date <= staff_periods.as_of_date
    group by 1, 2, 3
),

final as (
    select
        staff_periods.period_grain,
        staff_periods.period_start,
        staff_periods.as_of_date,
        staff_periods.is_current_period,
        staff_periods.user_id,
        completed_by_then.current_until_date is not null as has_current_training,
        completed_by_then.current_until_date,
        completed_by_then.last_lapsed_date
    from staff_periods
    left join completed_by_then
        on staff_periods.period_grain = completed_by_then.period_grain
        and staff_periods.period_start = completed_by_then.period_start
        and staff_periods.user_id = completed_by_then.user_id
)

select * from final
