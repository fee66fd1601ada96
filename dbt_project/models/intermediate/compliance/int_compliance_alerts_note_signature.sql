{#- One row per unsigned note at a Georgia signature stage (PRD: reminder at day 5, supervisor alert at day 7,
    billing hold at day 14; all three are critical alerts). Approaching the deadline (day 5 up to the deadline day)
    is a reminder, escalated to the supervisor from day 7; past the deadline (more than 7 days old, as the Unsigned
    Note Backlog measure counts it) it is overdue; from day 14 its charge is on billing hold. -#}
with

unsigned_notes as (select * from {{ ref('int_unsigned_notes_aged') }}),

params as (
    select
        {{ rule_value('NOTE_SIGNATURE', 'reminder_day') }} as reminder_day,
        {{ rule_value('NOTE_SIGNATURE', 'supervisor_alert_day') }} as supervisor_day,
        {{ rule_value('NOTE_SIGNATURE', 'billing_hold_day') }} as hold_day
),

staged as (
    select
        n.*,
        case
            when n.days_unsigned >= p.hold_day then 'UNSIGNED_NOTE_BILLING_HOLD'
            when n.is_past_deadline then 'UNSIGNED_NOTE_OVERDUE'
            else 'UNSIGNED_NOTE_REMINDER'
        end as alert_type,
        n.days_unsigned >= p.supervisor_day as is_supervisor_escalated,
        n.days_unsigned >= p.hold_day as is_admin_escalated
    from unsigned_notes as n
    cross join params as p
    where n.days_unsigned >= p.reminder_day
),

final as (
    select
        lower(alert_type) || ':clinical_note:' || cast(note_id as varchar) as alert_key,
        'GEORGIA_RULE' as rule_source,
        alert_type,
        'CRITICAL' as severity,
        clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        is_supervisor_escalated,
        is_admin_escalated,
        'clinical_note' as entity_type,
        note_id as entity_id,
        'Note #' || cast(note_id as varchar) || ' (client #' || cast(client_id as varchar)
        || ') has been unsigned for ' || cast(days_unsigned as varchar) || ' days' as message,
        case alert_type
            when 'UNSIGNED_NOTE_BILLING_HOLD'
                then 'Sign the note: its charge is on billing hold and cannot be submitted until then'
            when 'UNSIGNED_NOTE_OVERDUE'
                then 'Sign the note now: it is past the Georgia 7-day deadline; your supervisor has been notified'
            else 'Sign the note by ' || cast(signature_due_date as varchar) || ' (Georgia 7-day deadline)'
        end as action_required,
        signature_due_date as due_date
    from staged
)

select * from final
