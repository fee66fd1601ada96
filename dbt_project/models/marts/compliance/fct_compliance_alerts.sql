with

georgia as (select * from {{ ref('int_compliance_alerts_georgia') }}),
data_quality as (select * from {{ ref('int_compliance_alerts_data_quality') }}),
escalations as (select * from {{ ref('int_compliance_alerts_escalations') }}),
metric_thresholds as (select * from {{ ref('int_compliance_alerts_metric_thresholds') }}),
users as (select * from {{ ref('stg_operational__users') }}),

administrator as (
    select min(user_id) as admin_id from users where role = 'ADMIN' and is_active
),

unioned as (
    select * from georgia
    union all
    select * from data_quality
    union all
    select * from escalations
    union all
    select * from metric_thresholds
),

final as (
    select
        unioned.alert_key,
        unioned.target_user_id,
        case when unioned.is_supervisor_escalated then target.supervisor_id end as supervisor_id,
        case when unioned.is_admin_escalated then administrator.admin_id end as admin_id,
        unioned.entity_id,
        unioned.alert_type,
        unioned.rule_source,
        unioned.severity,
        unioned.target_role,
        unioned.entity_type,
        unioned.message,
        unioned.action_required,
        unioned.is_supervisor_escalated,
        unioned.is_admin_escalated,
        unioned.due_date,
        {{ as_of_date() }} as as_of_date
    from unioned
    cross join administrator
    left join users as target on unioned.target_user_id = target.user_id
)

select * from final
