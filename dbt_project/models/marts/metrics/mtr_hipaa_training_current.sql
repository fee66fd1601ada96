{#- HIPAA Training Current = active staff (every role but CLIENT, hired by then) with a training completed
    by the period's end and not yet expired (before the earlier of its expiry date and completion +
    HIPAA_TRAINING.validity_days) / active staff, as of each period's end; practice-wide only. -#}
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
            when expires_date < completed_date + cast({{ rule_value('HIPAA_TRAINING', 'validity_days') }} as integer)
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
        staff.user_id
    from periods
    inner join staff on staff.hired_date is null or staff.hired_date <= periods.as_of_date
),

trained as (
    select
        staff_periods.period_grain,
        staff_periods.period_start,
        staff_periods.user_id
    from staff_periods
    inner join training_validity
        on staff_periods.user_id = training_validity.user_id
        and training_validity.completed_date <= staff_periods.as_of_date
        and training_validity.expires_date > staff_periods.as_of_date
    group by 1, 2, 3
),

metric_parts as (
    select
        staff_periods.period_grain,
        staff_periods.period_start,
        cast(null as bigint) as clinician_id,
        case when trained.user_id is not null then 1 else 0 end as numerator_part,
        1 as denominator_part
    from staff_periods
    left join trained
        on staff_periods.period_grain = trained.period_grain
        and staff_periods.period_start = trained.period_start
        and staff_periods.user_id = trained.user_id
),

{{ metric_rollup('hipaa_training_current', 'metric_parts', scopes=['practice']) }}
