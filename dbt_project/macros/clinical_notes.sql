{#- Each note with its session: the practice-local service date, the Georgia signature deadline (from
    compliance_rules), and how long signing took. The session's documentation note is its earliest
    non-crisis note; a crisis note written on top of it is counted separately.
    `only_notes`: a `where` on the notes (stg_operational__clinical_notes) before they are joined and ranked,
    for fct_clinical_notes' rebuild by key. Ranking only the notes kept is right only when the notes kept hold
    every note of each session they name, which fct_clinical_notes' keys do. -#}
{% macro notes_joined_to_appointments(only_notes='') %}
with

notes as (
    select * from {{ ref('stg_operational__clinical_notes') }}
    {{- only_notes }}
),

appointments as (
    select * from {{ ref('int_appointments_of_record') }}
),

joined as (
    select
        notes.note_id,
        notes.client_id,
        notes.clinician_id,
        notes.appointment_id,
        notes.note_type,
        notes.note_status,
        appointments.appointment_status,
        notes.note_type = 'CRISIS_INTERVENTION' as is_crisis_note,
        -- Same convention as the unsigned-note alerts: the session's local end date, else the note's creation.
        coalesce(cast({{ to_local('appointments.end_at') }} as date), notes.created_date) as service_date,
        notes.signed_date,
        appointments.end_at as session_end_at,
        notes.signed_at,
        notes.created_at
    from notes
    left join appointments on notes.appointment_id = appointments.appointment_id
),

ranked as (
    select
        *,
        case
            when appointment_id is not null and not is_crisis_note
                then row_number() over (
                        partition by appointment_id, is_crisis_note order by created_at, note_id
                    )
        end as session_note_rank
    from joined
),

final as (
    select
        note_id,
        client_id,
        clinician_id,
        appointment_id,
        note_type,
        note_status,
        signed_at is not null as is_signed,
        is_crisis_note,
        coalesce(session_note_rank = 1 and appointment_status = 'COMPLETED', false) as is_session_note,
        signed_date = service_date as is_signed_same_day,
        coalesce(
            signed_date <= service_date + cast({{ rule_value('NOTE_SIGNATURE', 'supervisor_alert_day') }} as integer),
            false
        ) as is_signed_within_deadline,
        {{ days_between('service_date', 'signed_date') }} as days_to_sign,
        case
            when signed_at is not null and session_end_at is not null
                then cast(round(cast({{ dbt.datediff('session_end_at', 'signed_at', 'minute') }} as numeric(18, 4)) / 60, 4) as numeric(18, 4))
        end as documentation_hours,
        service_date,
        cast(service_date + cast({{ rule_value('NOTE_SIGNATURE', 'supervisor_alert_day') }} as integer) as date)
            as signature_due_date,
        signed_date,
        session_end_at,
        signed_at
    from ranked
)

select * from final
{% endmacro %}
