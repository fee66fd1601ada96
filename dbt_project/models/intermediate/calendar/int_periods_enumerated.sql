{#- Days, Monday-start weeks and months from the first appointment up to today (the as-of date).
    Point-in-time measures are evaluated on each period's as_of_date: its last day, or today for the
    period still running, so the current week shows the live figure. -#}
{{ config(materialized='table') }}

with

appointments as (
    select * from {{ ref('int_appointments_of_record') }}
),

bounds as (
    select
        min(appointment_date) as first_date,
        {{ as_of_date() }} as today
    from appointments
),

offsets as (
    {{ dbt.generate_series(8192) }}
),

days as (
    -- Spine past today to the end of the running month, so every period knows its real last day.
    select cast(bounds.first_date + cast(offsets.generated_number - 1 as integer) as date) as calendar_date
    from bounds
    cross join offsets
    where bounds.first_date + cast(offsets.generated_number - 1 as integer)
        <= cast({{ dbt.dateadd('day', 40, 'bounds.today') }} as date)
),

grained as (
    select
        'day' as period_grain,
        calendar_date as period_start,
        calendar_date
    from days
    union all
    select
        'week' as period_grain,
        {{ week_start('calendar_date') }} as period_start,
        calendar_date
    from days
    union all
    select
        'month' as period_grain,
        {{ month_start('calendar_date') }} as period_start,
        calendar_date
    from days
),

periods as (
    select
        period_grain,
        period_start,
        max(calendar_date) as period_end
    from grained
    group by 1, 2
),

final as (
    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        case when periods.period_end < bounds.today then periods.period_end else bounds.today end as as_of_date,
        {{ previous_period_start('periods.period_grain', 'periods.period_start') }} as previous_period_start,
        periods.period_end >= bounds.today as is_current_period
    from periods
    cross join bounds
    where periods.period_start <= bounds.today
        -- The first week may start before the first appointment; its as-of still lies inside the data.
        and periods.period_end >= bounds.first_date
)

select * from final
