{#- Rebook Rate = completed visits after which the client had another non-cancelled appointment (with any
    clinician) booked no later than 30 days after the visit / completed visits, by the visit's date. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
),

with_next_booking as (
    select
        appointment_id,
        client_id,
        clinician_id,
        appointment_status,
        appointment_date,
        -- The earliest booking date among the client's later appointments that were not cancelled: one
        -- window pass instead of a self-join over every pair of a client's appointments.
        min(case when appointment_status <> 'CANCELLED' then booked_date end) over (
            partition by client_id
            order by start_at, appointment_id
            rows between 1 following and unbounded following
        ) as next_booked_date
    from appointments
),

metric_events as (
    select
        appointment_id,
        clinician_id,
        appointment_date,
        case
            when next_booked_date <= appointment_date + {{ var('rebook_window_days', 30) }} then 1 else 0
        end as is_rebooked
    from with_next_booking
    where appointment_status = 'COMPLETED'
),

{{ metric_from_events('rebook_rate', 'metric_events', 'appointment_date', 'is_rebooked', '1') }}
