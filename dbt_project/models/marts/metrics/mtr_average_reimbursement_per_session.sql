{#- Average Reimbursement Per Session = payments applied to date (insurance and client) to the charges of
    completed sessions / completed sessions, by session date. Recent periods grow as claims settle. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
    where is_kept
),

charges as (
    select * from {{ ref('fct_charges') }}
    where appointment_id is not null
),

paid_by_appointment as (
    select
        appointment_id,
        sum(paid_amount) as paid_amount
    from charges
    group by 1
),

metric_events as (
    select
        appointments.appointment_id,
        appointments.clinician_id,
        appointments.appointment_date,
        coalesce(paid_by_appointment.paid_amount, 0) as paid_amount
    from appointments
    left join paid_by_appointment on appointments.appointment_id = paid_by_appointment.appointment_id
),

{{ metric_from_events(
    'average_reimbursement_per_session', 'metric_events', 'appointment_date', 'paid_amount', '1', value='ratio'
) }}
