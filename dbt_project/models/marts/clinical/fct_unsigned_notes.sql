{#- Notes unsigned at the end of today, with their age and whether the Georgia deadline has passed: the warehouse's
    one note-age rule (int_unsigned_notes_aged), for the pages that list or count unsigned notes. -#}
with

unsigned as (
    select * from {{ ref('int_unsigned_notes_aged') }}
),

final as (
    select
        note_id,
        client_id,
        clinician_id,
        appointment_id,
        note_type,
        days_unsigned,
        is_past_deadline,
        service_date,
        signature_due_date
    from unsigned
)

select * from final
