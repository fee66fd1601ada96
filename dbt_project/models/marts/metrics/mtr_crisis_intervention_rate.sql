{#- Crisis Intervention Rate = crisis-intervention notes (by service date) / completed sessions (by session
    date), per clinician who wrote or held them. -#}
with

notes as (
    select * from {{ ref('fct_clinical_notes') }}
),

appointments as (
    select * from {{ ref('fct_appointments') }}
),

metric_events as (
    select
        clinician_id,
        service_date as event_date,
        1 as is_crisis_note,
        0 as is_session
    from notes
    where is_crisis_note
    union all
    select
        clinician_id,
        appointment_date as event_date,
        0 as is_crisis_note,
        1 as is_session
    from appointments
    where is_kept
),

{{ metric_from_events('crisis_intervention_rate', 'metric_events', 'event_date', 'is_crisis_note', 'is_session') }}
