{#- One row per active high-risk client without a current safety plan today (a PRD critical alert). Read from
    int_client_safety_plans_by_period, the rows the Safety Plan Compliance measure counts. -#}
with

plan_status as (
    select * from {{ ref('int_client_safety_plans_by_period') }}
    where period_grain = 'month' and is_current_period and not has_current_plan
),

final as (
    select
        'safety_plan_missing:client:' || cast(client_id as varchar) as alert_key,
        'GEORGIA_RULE' as rule_source,
        'SAFETY_PLAN_MISSING' as alert_type,
        'CRITICAL' as severity,
        clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        true as is_supervisor_escalated,
        false as is_admin_escalated,
        'client' as entity_type,
        client_id as entity_id,
        case
            when safety_plan_id is null
                then 'High-risk client #' || cast(client_id as varchar) || ' has no safety plan'
            else 'Safety plan #' || cast(safety_plan_id as varchar) || ' (high-risk client #' || cast(client_id as varchar)
                || ') was due for review on ' || cast(current_through_date as varchar)
        end as message,
        'Complete or review the safety plan: Georgia requires one for clients with suicidal ideation' as action_required,
        coalesce(current_through_date, as_of_date) as due_date
    from plan_status
)

select * from final
