{#- Signature timing only: the note text never reaches the warehouse. -#}
with

notes as (
    select * from {{ ref('int_notes_joined_to_appointments') }}
),

final as (
    select
        note_id,
        client_id,
        clinician_id,
        appointment_id,
        note_type,
        note_status,
        days_to_sign,
        documentation_hours,
        is_signed,
        is_crisis_note,
        is_session_note,
        is_signed_same_day,
        is_signed_within_deadline,
        service_date,
        signature_due_date,
        signed_date,
        session_end_at,
        signed_at
    from notes
)

select * from final
