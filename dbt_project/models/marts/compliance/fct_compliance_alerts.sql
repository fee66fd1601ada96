with

georgia as (select * from {{ ref('int_compliance_alerts_georgia') }}),

data_quality as (select * from {{ ref('int_compliance_alerts_data_quality') }}),

escalations as (select * from {{ ref('int_compliance_alerts_escalations') }}),

metric_thresholds as (select * from {{ ref('int_compliance_alerts_metric_thresholds') }}),

supervision_notes as (select * from {{ ref('int_compliance_alerts_supervision_notes') }}),

users as (select * from {{ ref('stg_operational__users') }}),

administrator as (
    select min(user_id) as admin_id from users
    where role = 'ADMIN' and is_active
),

unioned as (
    select * from georgia
    union all
    select * from data_quality
    union all
    select * from escalations
    union all
    select * from metric_thresholds
    union all
    select * from supervision_notes
),

final as (
    select
        unioned.alert_key,
        unioned.target_user_id,
        case when unioned.is_supervisor_escalated then supervisor.user_id end as supervisor_id,
        -- An escalation for someone without an active supervisor goes to the administrator instead
        -- of stopping at the person it is about.
        case when unioned.is_admin_escalated or (unioned.is_supervisor_escalated and supervisor.user_id is null)
                then administrator.admin_id
        end as admin_id,
        unioned.entity_id,
        unioned.alert_type,
        unioned.rule_source,
        unioned.severity,
        unioned.target_role,
        unioned.entity_type,
        unioned.message,
        unioned.action_required,
        unioned.is_supervisor_escalated,
        unioned.is_admin_escalated or (unioned.is_supervisor_escalated and supervisor.user_id is null)
            as is_admin_escalated,
        unioned.due_date,
        {{ as_of_date() }} as as_of_date
    from unioned
    cross join administrator
    left join users as target on unioned.target_user_id = target.user_id
    left join users as supervisor on target.supervisor_id = supervisor.user_id and supervisor.is_active
)

select * from final
