{#- One row per open Georgia-rule condition (PRD "Georgia-Specific Compliance Rules").
    Every day count and window comes from compliance_rules, none is written here. -#}
with

unsigned_notes as (select * from {{ ref('int_unsigned_notes_aged') }}),
clients as (select * from {{ ref('stg_operational__clients') }}),
consents as (select * from {{ ref('stg_operational__consents') }}),
treatment_plans as (select * from {{ ref('stg_operational__treatment_plans') }}),
safety_plans as (select * from {{ ref('stg_operational__safety_plans') }}),
appointments as (select * from {{ ref('stg_operational__appointments') }}),
users as (select * from {{ ref('stg_operational__users') }}),
trainings as (select * from {{ ref('stg_operational__hipaa_trainings') }}),
supervision as (select * from {{ ref('stg_operational__supervision_sessions') }}),
rules as (select * from {{ ref('stg_operational__compliance_rules') }} where is_active),

params as (
    select
        {{ rule_value('NOTE_SIGNATURE', 'reminder_day') }} as note_reminder_day,
        {{ rule_value('NOTE_SIGNATURE', 'supervisor_alert_day') }} as note_supervisor_day,
        {{ rule_value('NOTE_SIGNATURE', 'billing_hold_day') }} as note_hold_day,
        {{ rule_value('TREATMENT_PLAN_REVIEW', 'reminder_day') }} as plan_reminder_day,
        {{ rule_value('TREATMENT_PLAN_REVIEW', 'alert_day') }} as plan_alert_day,
        {{ rule_value('TREATMENT_PLAN_REVIEW', 'out_of_compliance_day') }} as plan_out_day,
        {{ rule_value('INFORMED_CONSENT', 'reminder_days_before') }} as consent_reminder_days,
        {{ rule_value('HIPAA_TRAINING', 'reminder_days_before') }} as hipaa_reminder_days,
        {{ as_of_date() }} as as_of_date
),

note_alerts as (
    select
        case
            when n.days_unsigned >= p.note_hold_day then 'UNSIGNED_NOTE_BILLING_HOLD'
            when n.days_unsigned >= p.note_supervisor_day then 'UNSIGNED_NOTE_OVERDUE'
            else 'UNSIGNED_NOTE_REMINDER'
        end as alert_type,
        case
            when n.days_unsigned >= p.note_hold_day then 'CRITICAL'
            when n.days_unsigned >= p.note_supervisor_day then 'WARNING'
            else 'INFO'
        end as severity,
        n.clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        n.days_unsigned >= p.note_supervisor_day as is_supervisor_escalated,
        n.days_unsigned >= p.note_hold_day as is_admin_escalated,
        'clinical_note' as entity_type,
        n.note_id as entity_id,
        'Note #' || cast(n.note_id as varchar) || ' (client #' || cast(n.client_id as varchar)
            || ') has been unsigned for ' || cast(n.days_unsigned as varchar) || ' days' as message,
        case
            when n.days_unsigned >= p.note_hold_day
                then 'Sign the note: its charge is on billing hold and cannot be submitted until then'
            when n.days_unsigned >= p.note_supervisor_day
                then 'Sign the note now: Georgia requires signature within 7 days; your supervisor has been notified'
            else 'Sign the note before day 7'
        end as action_required,
        n.session_date + cast(p.note_supervisor_day as integer) as due_date
    from unsigned_notes as n
    cross join params as p
    where n.days_unsigned >= p.note_reminder_day
),

current_plans as (
    -- The plan in force for each client: the latest one not superseded.
    select
        client_id,
        clinician_id,
        treatment_plan_id,
        coalesce(reviewed_date, effective_date) as last_review_date,
        row_number() over (partition by client_id order by effective_date desc, treatment_plan_id desc) as recency
    from treatment_plans
    where superseded_date is null or superseded_date > {{ as_of_date() }}
),

active_clients as (
    select * from clients where client_status = 'ACTIVE'
),

seen_clients as (
    select distinct client_id from appointments where appointment_status = 'COMPLETED'
),

plan_alerts as (
    select
        case
            when plans.treatment_plan_id is null then 'TREATMENT_PLAN_MISSING'
            when {{ days_between('plans.last_review_date', 'p.as_of_date') }} >= p.plan_out_day then 'TREATMENT_PLAN_OUT_OF_COMPLIANCE'
            when {{ days_between('plans.last_review_date', 'p.as_of_date') }} >= p.plan_alert_day then 'TREATMENT_PLAN_REVIEW_DUE'
            else 'TREATMENT_PLAN_REVIEW_REMINDER'
        end as alert_type,
        case
            when plans.treatment_plan_id is null then 'CRITICAL'
            when {{ days_between('plans.last_review_date', 'p.as_of_date') }} >= p.plan_out_day then 'CRITICAL'
            when {{ days_between('plans.last_review_date', 'p.as_of_date') }} >= p.plan_alert_day then 'WARNING'
            else 'INFO'
        end as severity,
        coalesce(plans.clinician_id, c.primary_clinician_id) as target_user_id,
        cast(null as varchar) as target_role,
        plans.treatment_plan_id is null
            or {{ days_between('plans.last_review_date', 'p.as_of_date') }} >= p.plan_alert_day as is_supervisor_escalated,
        false as is_admin_escalated,
        'client' as entity_type,
        c.client_id as entity_id,
        case
            when plans.treatment_plan_id is null
                then 'Active client #' || cast(c.client_id as varchar) || ' has no treatment plan'
            else 'Treatment plan #' || cast(plans.treatment_plan_id as varchar) || ' (client #' || cast(c.client_id as varchar)
                || ') was last reviewed ' || cast({{ days_between('plans.last_review_date', 'p.as_of_date') }} as varchar) || ' days ago'
        end as message,
        case
            when plans.treatment_plan_id is null then 'Write a treatment plan: Georgia requires one for every active client'
            else 'Review the treatment plan: Georgia requires a review every 90 days'
        end as action_required,
        coalesce(plans.last_review_date + cast(p.plan_alert_day as integer), p.as_of_date) as due_date
    from active_clients as c
    inner join seen_clients as seen on c.client_id = seen.client_id
    cross join params as p
    left join current_plans as plans on c.client_id = plans.client_id and plans.recency = 1
    where plans.treatment_plan_id is null
        or {{ days_between('plans.last_review_date', 'p.as_of_date') }} >= p.plan_reminder_day
),

latest_consent as (
    select
        client_id,
        consent_type,
        max(expiry_date) as expiry_date,
        max(case when expiry_date is null then 1 else 0 end) as has_open_ended
    from consents
    where revoked_date is null and signed_date <= {{ as_of_date() }}
    group by client_id, consent_type
),

informed_consent_alerts as (
    select
        case
            when ic.client_id is null or ic.expiry_date <= p.as_of_date then 'INFORMED_CONSENT_EXPIRED'
            else 'INFORMED_CONSENT_EXPIRING'
        end as alert_type,
        case when ic.client_id is null or ic.expiry_date <= p.as_of_date then 'CRITICAL' else 'INFO' end as severity,
        c.primary_clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        false as is_supervisor_escalated,
        false as is_admin_escalated,
        'client' as entity_type,
        c.client_id as entity_id,
        case
            when ic.client_id is null then 'Active client #' || cast(c.client_id as varchar) || ' has no informed consent on file'
            when ic.expiry_date <= p.as_of_date then 'Informed consent of client #' || cast(c.client_id as varchar)
                || ' expired on ' || cast(ic.expiry_date as varchar)
            else 'Informed consent of client #' || cast(c.client_id as varchar) || ' expires on ' || cast(ic.expiry_date as varchar)
        end as message,
        case
            when ic.client_id is null or ic.expiry_date <= p.as_of_date
                then 'Renew the informed consent: booking is blocked until it is signed'
            else 'Have the client renew the informed consent before it expires'
        end as action_required,
        coalesce(ic.expiry_date, p.as_of_date) as due_date
    from active_clients as c
    cross join params as p
    left join latest_consent as ic on c.client_id = ic.client_id and ic.consent_type = 'INFORMED'
    where ic.client_id is null
        or (ic.has_open_ended = 0 and ic.expiry_date <= p.as_of_date + cast(p.consent_reminder_days as integer))
),

minor_consent_alerts as (
    select
        'MINOR_WITHOUT_GUARDIAN_CONSENT' as alert_type,
        'CRITICAL' as severity,
        c.primary_clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        true as is_supervisor_escalated,
        false as is_admin_escalated,
        'client' as entity_type,
        c.client_id as entity_id,
        'Minor client #' || cast(c.client_id as varchar) || ' has no current parent/guardian consent' as message,
        'Obtain guardian consent: appointments cannot be booked for a minor without it' as action_required,
        p.as_of_date as due_date
    from active_clients as c
    cross join params as p
    left join latest_consent as gc on c.client_id = gc.client_id and gc.consent_type = 'GUARDIAN'
    where c.adult_on_date > p.as_of_date
        and not c.is_emancipated
        and (gc.client_id is null or (gc.has_open_ended = 0 and gc.expiry_date <= p.as_of_date))
),

telehealth_clients as (
    select client_id, min(appointment_date) as first_telehealth_date
    from appointments
    where is_telehealth and appointment_status not in ('CANCELLED', 'RESCHEDULED')
    group by client_id
),

telehealth_consent_alerts as (
    select
        'TELEHEALTH_WITHOUT_CONSENT' as alert_type,
        'CRITICAL' as severity,
        c.primary_clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        true as is_supervisor_escalated,
        false as is_admin_escalated,
        'client' as entity_type,
        c.client_id as entity_id,
        'Client #' || cast(c.client_id as varchar) || ' has telehealth sessions but no telehealth consent on file' as message,
        'Obtain a separate telehealth consent before the next telehealth session' as action_required,
        t.first_telehealth_date as due_date
    from active_clients as c
    inner join telehealth_clients as t on c.client_id = t.client_id
    left join latest_consent as tc on c.client_id = tc.client_id and tc.consent_type = 'TELEHEALTH'
    where tc.client_id is null
),

current_safety_plans as (
    select distinct client_id
    from safety_plans
    where effective_date <= {{ as_of_date() }}
        and (superseded_date is null or superseded_date > {{ as_of_date() }})
        and review_due_date >= {{ as_of_date() }}
),

safety_plan_alerts as (
    select
        'SAFETY_PLAN_MISSING' as alert_type,
        'CRITICAL' as severity,
        c.primary_clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        true as is_supervisor_escalated,
        false as is_admin_escalated,
        'client' as entity_type,
        c.client_id as entity_id,
        'High-risk client #' || cast(c.client_id as varchar) || ' has no current safety plan' as message,
        'Complete or review the safety plan: Georgia requires one for clients with suicidal ideation' as action_required,
        p.as_of_date as due_date
    from active_clients as c
    cross join params as p
    left join current_safety_plans as sp on c.client_id = sp.client_id
    where (c.is_high_risk or c.has_suicidal_ideation) and sp.client_id is null
),

staff as (
    select * from users where role in ('ADMIN', 'CLINICIAN', 'SUPERVISOR', 'BILLING', 'FRONT_DESK') and is_active
),

latest_training as (
    select user_id, max(expires_date) as expires_date from trainings group by user_id
),

hipaa_alerts as (
    select
        case when t.user_id is null or t.expires_date <= p.as_of_date then 'HIPAA_TRAINING_EXPIRED' else 'HIPAA_TRAINING_EXPIRING' end as alert_type,
        case when t.user_id is null or t.expires_date <= p.as_of_date then 'CRITICAL' else 'INFO' end as severity,
        s.user_id as target_user_id,
        cast(null as varchar) as target_role,
        false as is_supervisor_escalated,
        t.user_id is null or t.expires_date <= p.as_of_date as is_admin_escalated,
        'user' as entity_type,
        s.user_id as entity_id,
        case
            when t.user_id is null then 'Staff member #' || cast(s.user_id as varchar) || ' has no HIPAA training on record'
            when t.expires_date <= p.as_of_date then 'HIPAA training of staff member #' || cast(s.user_id as varchar)
                || ' expired on ' || cast(t.expires_date as varchar)
            else 'HIPAA training of staff member #' || cast(s.user_id as varchar) || ' expires on ' || cast(t.expires_date as varchar)
        end as message,
        case
            when t.user_id is null or t.expires_date <= p.as_of_date
                then 'Complete the annual HIPAA training: system access is suspended until then'
            else 'Complete the annual HIPAA training before it expires'
        end as action_required,
        coalesce(t.expires_date, p.as_of_date) as due_date
    from staff as s
    cross join params as p
    left join latest_training as t on s.user_id = t.user_id
    where t.user_id is null or t.expires_date <= p.as_of_date + cast(p.hipaa_reminder_days as integer)
),

last_month as (
    select
        cast({{ month_start(as_of_date()) }} - interval '1 month' as date) as month_start,
        {{ month_start(as_of_date()) }} as next_month_start
),

required_hours as (
    select
        s.user_id,
        s.supervisor_id,
        s.license_type,
        r.rule_value as required_hours
    from staff as s
    inner join rules as r
        on r.rule_type = 'SUPERVISION_HOURS' and r.parameter = 'hours_per_month' and r.license_type = s.license_type
    where s.supervisor_id is not null
),

hours_last_month as (
    select
        req.user_id,
        req.supervisor_id,
        req.required_hours,
        m.month_start,
        coalesce(sum(sup.duration_hours), 0) as logged_hours
    from required_hours as req
    cross join last_month as m
    left join supervision as sup
        on req.user_id = sup.supervisee_id
        and sup.session_date >= m.month_start
        and sup.session_date < m.next_month_start
    group by req.user_id, req.supervisor_id, req.required_hours, m.month_start
),

supervision_alerts as (
    select
        'SUPERVISION_HOURS_BELOW_REQUIREMENT' as alert_type,
        'WARNING' as severity,
        h.user_id as target_user_id,
        cast(null as varchar) as target_role,
        true as is_supervisor_escalated,
        true as is_admin_escalated,
        'user_month' as entity_type,
        h.user_id as entity_id,
        'Clinician #' || cast(h.user_id as varchar) || ' logged ' || cast(h.logged_hours as varchar)
            || ' of ' || cast(h.required_hours as varchar) || ' required supervision hours in '
            || cast(h.month_start as varchar) as message,
        'Schedule supervision to meet the licence requirement; the shortfall is reported to supervisor and administrator' as action_required,
        h.month_start as due_date
    from hours_last_month as h
    where h.logged_hours < h.required_hours
),

unioned as (
    select 'GEORGIA_RULE' as rule_source, * from note_alerts
    union all
    select 'GEORGIA_RULE' as rule_source, * from plan_alerts
    union all
    select 'GEORGIA_RULE' as rule_source, * from informed_consent_alerts
    union all
    select 'GEORGIA_RULE' as rule_source, * from minor_consent_alerts
    union all
    select 'GEORGIA_RULE' as rule_source, * from telehealth_consent_alerts
    union all
    select 'GEORGIA_RULE' as rule_source, * from safety_plan_alerts
    union all
    select 'GEORGIA_RULE' as rule_source, * from hipaa_alerts
    union all
    select 'GEORGIA_RULE' as rule_source, * from supervision_alerts
),

final as (
    select
        -- Stable across re-runs: the same condition on the same record keeps its key. Supervision
        -- shortfalls are per month, so each month's shortfall is its own alert.
        lower(alert_type) || ':' || entity_type || ':' || cast(entity_id as varchar)
            || case when entity_type = 'user_month' then ':' || cast(due_date as varchar) else '' end as alert_key,
        *
    from unioned
)

select * from final
