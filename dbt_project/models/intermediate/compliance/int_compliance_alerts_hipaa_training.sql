{#- One row per staff member whose HIPAA training is not current today (access is suspended, PRD) or runs out within
    HIPAA_TRAINING.reminder_days_before days. Both are critical (PRD critical alerts: "HIPAA training expiration").
    Read from int_staff_hipaa_training_by_period, the rows the HIPAA Training Current measure counts. -#}
with

training_status as (
    select * from {{ ref('int_staff_hipaa_training_by_period') }}
    where period_grain = 'month' and is_current_period
),

params as (
    select {{ rule_value('HIPAA_TRAINING', 'reminder_days_before') }} as reminder_days
),

staged as (
    select
        s.*,
        case when s.has_current_training then 'HIPAA_TRAINING_EXPIRING' else 'HIPAA_TRAINING_EXPIRED' end as alert_type
    from training_status as s
    cross join params as p
    where not s.has_current_training
        or s.current_until_date <= s.as_of_date + cast(p.reminder_days as integer)
),

final as (
    select
        lower(alert_type) || ':user:' || cast(user_id as varchar) as alert_key,
        'GEORGIA_RULE' as rule_source,
        alert_type,
        'CRITICAL' as severity,
        user_id as target_user_id,
        cast(null as varchar) as target_role,
        false as is_supervisor_escalated,
        not has_current_training as is_admin_escalated,
        'user' as entity_type,
        user_id as entity_id,
        case
            when has_current_training
                then 'HIPAA training of staff member #' || cast(user_id as varchar)
                    || ' expires on ' || cast(current_until_date as varchar)
            when last_lapsed_date is not null
                then 'HIPAA training of staff member #' || cast(user_id as varchar)
                    || ' expired on ' || cast(last_lapsed_date as varchar)
            else 'Staff member #' || cast(user_id as varchar) || ' has no HIPAA training on record'
        end as message,
        case
            when has_current_training then 'Complete the annual HIPAA training before it expires'
            else 'Complete the annual HIPAA training: system access is suspended until then'
        end as action_required,
        coalesce(current_until_date, last_lapsed_date, as_of_date) as due_date
    from staged
)

select * from final
