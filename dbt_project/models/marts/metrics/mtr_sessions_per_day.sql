{#- Sessions Per Day = completed sessions / working days, where a working day is a clinician's practice-local
    day with at least one completed or no-show appointment. The practice value is the average per clinician
    per working day. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
),

clinician_days as (
    select
        clinician_id,
        appointment_date,
        sum(case when is_kept then 1 else 0 end) as sessions_completed,
        max(case when is_kept or is_no_show then 1 else 0 end) as is_working_day
    from appointments
    where is_kept or is_no_show
    group by 1, 2
),

{{ metric_from_events(
    'sessions_per_day', 'clinician_days', 'appointment_date', 'sessions_completed', 'is_working_day',
    value='ratio', grains=['day', 'week', 'month']
) }}
