{#- How long each unsigned note has waited, counted in practice-local days from the session
    (or from the note's creation when it has no appointment). -#}
with

notes as (
    select * from {{ ref('stg_operational__clinical_notes') }}
),

appointments as (
    select * from {{ ref('stg_operational__appointments') }}
),

unsigned as (
    select
        notes.note_id,
        notes.client_id,
        notes.clinician_id,
        notes.appointment_id,
        notes.note_type,
        coalesce(cast({{ to_local('appointments.end_at') }} as date), notes.created_date) as session_date
    from notes
    left join appointments on notes.appointment_id = appointments.appointment_id
    where notes.signed_at is null
),

final as (
    select
        note_id,
        client_id,
        clinician_id,
        appointment_id,
        note_type,
        session_date,
        {{ days_between('session_date', as_of_date()) }} as days_unsigned
    from unsigned
    where session_date <= {{ as_of_date() }}
)

select * from final
