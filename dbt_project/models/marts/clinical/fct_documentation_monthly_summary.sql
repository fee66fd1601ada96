{#- Notes by service month, per clinician and for the practice (clinician_id null): how many were signed the
    same day and within the Georgia deadline, and how many are still unsigned. The within-deadline share counts
    only notes whose deadline has passed (the deadline day included as on time: the same cut as the Unsigned
    Note Backlog and the note alerts), so a note not yet due, signed or not, counts neither way. -#}
with

notes as (
    select * from {{ ref('fct_clinical_notes') }}
),

per_clinician as (
    select
        {{ month_start('service_date') }} as month_start,
        clinician_id,
        count(*) as notes_written,
        sum(case when signature_due_date < {{ as_of_date() }} then 1 else 0 end) as notes_due,
        sum(case when signature_due_date < {{ as_of_date() }} and is_signed_within_deadline then 1 else 0 end)
            as notes_signed_within_deadline,
        sum(case when is_signed_same_day then 1 else 0 end) as notes_signed_same_day,
        sum(case when not is_signed then 1 else 0 end) as notes_unsigned
    from notes
    where service_date <= {{ as_of_date() }}
    group by 1, 2
),

per_practice as (
    select
        month_start,
        cast(null as bigint) as clinician_id,
        sum(notes_written) as notes_written,
        sum(notes_due) as notes_due,
        sum(notes_signed_within_deadline) as notes_signed_within_deadline,
        sum(notes_signed_same_day) as notes_signed_same_day,
        sum(notes_unsigned) as notes_unsigned
    from per_clinician
    group by 1
),

combined as (
    select
        'clinician' as scope,
        *
    from per_clinician
    union all
    select
        'practice' as scope,
        *
    from per_practice
),

final as (
    select
        clinician_id,
        scope,
        notes_written,
        notes_due,
        notes_signed_within_deadline,
        notes_signed_same_day,
        notes_unsigned,
        {{ safe_pct('notes_signed_within_deadline', 'notes_due') }} as signed_within_deadline_pct,
        month_start
    from combined
)

select * from final
