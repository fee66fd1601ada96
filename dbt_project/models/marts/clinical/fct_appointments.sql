{#- Rebuilt by key in a refresh (macros/fact_keys.sql): an appointment whose row changed. -#}
{{ config(materialized='incremental', incremental_strategy='by_key', unique_key='appointment_id') }}
{% set rebuilt = changed_keys('appointments', 'id') %}

with

appointments as (
    select * from {{ ref('int_appointments_of_record') }}
    {{- rebuilt_only('appointment_id', rebuilt) }}
),

final as (
    select
        appointment_id,
        client_id,
        clinician_id,
        rescheduled_from_appointment_id,
        appointment_type,
        appointment_status,
        cancellation_reason,
        -- Practice-local weekday (0 = Monday, as in clinician_availability) and minutes after midnight.
        cast(extract(isodow from appointment_date) as integer) - 1 as weekday,
        cast(extract(hour from start_local_at) * 60 + extract(minute from start_local_at) as integer) as start_minute,
        {{ days_between('booked_date', 'appointment_date') }} as lead_time_days,
        -- Final = the visit's outcome is known. A RESCHEDULED original is not an outcome: its
        -- replacement appointment carries the outcome, so counting both would count one visit twice.
        appointment_status in ('COMPLETED', 'NO_SHOW', 'CANCELLED') as is_final_status,
        appointment_status = 'COMPLETED' as is_kept,
        appointment_status = 'NO_SHOW' as is_no_show,
        appointment_status = 'CANCELLED' as is_cancelled,
        -- Holds its slot: everything except a cancellation or a rescheduled original (its slot was freed).
        appointment_status not in ('CANCELLED', 'RESCHEDULED') as is_slot_booked,
        is_telehealth,
        is_booked_online,
        is_recurring,
        is_minor_on_date,
        appointment_date,
        {{ week_start('appointment_date') }} as appointment_week_start,
        {{ month_start('appointment_date') }} as appointment_month_start,
        booked_date,
        start_at,
        end_at,
        start_local_at,
        booked_at,
        arrived_at,
        clinician_ready_at,
        status_changed_at
    from appointments
)

{{ rebuilt_rows('appointment_id', rebuilt) }}
