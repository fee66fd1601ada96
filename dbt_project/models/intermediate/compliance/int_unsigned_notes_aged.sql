{#- One row per note unsigned at the end of the as-of date: its service date and signature deadline (one home:
    int_notes_joined_to_appointments), the practice-local days since the service date, and whether the deadline
    has passed (the note is more than NOTE_SIGNATURE.supervisor_alert_day days old; signing on the deadline day is
    on time). The Unsigned Note Backlog measure and the note alerts cut day 7 the same way. -#}
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
        service_date,
        signature_due_date,
        {{ days_between('service_date', as_of_date()) }} as days_unsigned,
        signature_due_date < {{ as_of_date() }} as is_past_deadline
    from notes
    where (signed_date is null or signed_date > {{ as_of_date() }})
        and service_date <= {{ as_of_date() }}
)

select * from final
