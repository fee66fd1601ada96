{#- One CRITICAL alert per supervision session whose note is not signed (PRD Critical Alerts: "unsigned
    supervision notes", immediate). It opens the day after the session (the store keeps the session's date,
    not its time, so a session dated today may not have happened yet) and goes to the supervisor, who writes
    and signs the note. From the note's deadline day (SUPERVISION_NOTE.deadline_days after the session, the
    deadline Supervision Note Timeliness judges) it is escalated to the administrator as well, as clinical
    notes are escalated on their deadline day. Unsigned = no signing time, as that measure counts it. -#}
with

sessions as (select * from {{ ref('stg_operational__supervision_sessions') }}),

params as (
    select
        cast({{ rule_value('SUPERVISION_NOTE', 'deadline_days') }} as integer) as deadline_days,
        {{ as_of_date() }} as as_of_date
),

unsigned as (
    select
        s.supervision_session_id,
        s.supervisor_id,
        s.supervisee_id,
        s.session_date,
        cast(s.session_date + p.deadline_days as date) as due_date,
        {{ days_between('s.session_date', 'p.as_of_date') }} as days_unsigned,
        p.deadline_days
    from sessions as s
    cross join params as p
    where s.signed_at is null and s.session_date < p.as_of_date
),

final as (
    select
        -- One alert per session for its whole life: the key carries neither the day count nor the escalation.
        'supervision_note_unsigned:supervision_session:' || cast(supervision_session_id as varchar) as alert_key,
        'GEORGIA_RULE' as rule_source,
        'SUPERVISION_NOTE_UNSIGNED' as alert_type,
        'CRITICAL' as severity,
        supervisor_id as target_user_id,
        cast(null as varchar) as target_role,
        false as is_supervisor_escalated,
        days_unsigned >= deadline_days as is_admin_escalated,
        'supervision_session' as entity_type,
        supervision_session_id as entity_id,
        'Supervision session #' || cast(supervision_session_id as varchar) || ' with clinician #'
        || cast(supervisee_id as varchar) || ' on ' || cast(session_date as varchar)
        || ' has had no signed note for ' || cast(days_unsigned as varchar) || ' days' as message,
        case
            when days_unsigned >= deadline_days
                then 'Sign the supervision note now: it is due within ' || cast(deadline_days as varchar)
                    || ' days of the session; the administrator has been notified'
            else 'Sign the supervision note by ' || cast(due_date as varchar)
        end as action_required,
        due_date
    from unsigned
)

select * from final
