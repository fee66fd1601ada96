{#- Front Desk Check-In Time = sum of minutes from the client's arrival to clinician ready / appointments
    with both times recorded, by appointment date. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
    where arrived_at is not null and clinician_ready_at is not null and clinician_ready_at >= arrived_at
),

metric_events as (
    select
        appointment_id,
        clinician_id,
        appointment_date,
        round(cast({{ dbt.datediff('arrived_at', 'clinician_ready_at', 'second') }} as numeric(18, 4)) / 60, 4)
            as check_in_minutes
    from appointments
),

{{ metric_from_events(
    'front_desk_check_in_time', 'metric_events', 'appointment_date', 'check_in_minutes', '1',
    value='ratio', grains=['day', 'week', 'month']
) }}
