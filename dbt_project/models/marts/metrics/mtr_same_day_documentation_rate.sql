{#- Same-Day Documentation Rate = completed sessions whose documentation note was signed on the session's
    practice-local day / completed sessions (a session without a note counts as not documented). -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
    where is_kept
),

session_notes as (
    select * from {{ ref('fct_clinical_notes') }}
    where is_session_note
),

metric_events as (
    select
        appointments.appointment_id,
        appointments.clinician_id,
        appointments.appointment_date,
        case when session_notes.is_signed_same_day then 1 else 0 end as is_signed_same_day
    from appointments
    left join session_notes on appointments.appointment_id = session_notes.appointment_id
),

{{ metric_from_events(
    'same_day_documentation_rate', 'metric_events', 'appointment_date', 'is_signed_same_day', '1',
    grains=['day', 'week', 'month']
) }}
