{#- Supervision Note Timeliness = supervision sessions whose note was signed within the deadline
    (SUPERVISION_NOTE.deadline_days practice-local days after the session) / supervision sessions whose
    deadline has passed or that are signed, by session date, per supervisor (who writes the note). -#}
with

sessions as (
    select * from {{ ref('stg_operational__supervision_sessions') }}
),

deadlines as (
    select
        supervision_session_id,
        supervisor_id as clinician_id,
        session_date,
        signed_date,
        cast(session_date + cast({{ rule_value('SUPERVISION_NOTE', 'deadline_days') }} as integer) as date) as due_date
    from sessions
),

metric_events as (
    select
        supervision_session_id,
        clinician_id,
        session_date,
        case when signed_date <= due_date then 1 else 0 end as is_signed_on_time
    from deadlines
    where signed_date is not null or due_date < {{ as_of_date() }}
),

{{ metric_from_events('supervision_note_timeliness', 'metric_events', 'session_date', 'is_signed_on_time', '1') }}
