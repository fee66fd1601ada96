{#- Billing Compliance Rate = completed sessions with at least one non-void charge linked to the
    appointment / completed sessions, by session date. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
    where is_kept
),

charges as (
    select * from {{ ref('fct_charges') }}
    where not is_void and appointment_id is not null
),

billed_appointments as (
    select appointment_id
    from charges
    group by 1
),

metric_events as (
    select
        appointments.appointment_id,
        appointments.clinician_id,
        appointments.appointment_date,
        case when billed_appointments.appointment_id is not null then 1 else 0 end as is_billed
    from appointments
    left join billed_appointments on appointments.appointment_id = billed_appointments.appointment_id
),

{{ metric_from_events('billing_compliance_rate', 'metric_events', 'appointment_date', 'is_billed', '1') }}
