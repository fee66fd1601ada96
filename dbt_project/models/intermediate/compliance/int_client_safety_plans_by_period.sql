{#- One row per week or month and active client who needs a safety plan on its as-of date (high-risk or suicidal
    ideation flag: the store's current flags, it keeps no history), with the safety plan in force then (the latest to
    take effect) and whether it is current: within SAFETY_PLAN.review_interval_days of taking effect. The one
    definition read by the safety-plan measure and the missing-safety-plan alert. -#}
{{ config(materialized='table') }}

with

high_risk_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
    where needs_safety_plan
),

plans as (
    select * from {{ ref('stg_operational__safety_plans') }}
),

in_force as (
    select
        high_risk_clients.period_grain,
        high_risk_clients.period_start,
        high_risk_clients.client_id,
        plans.safety_plan_id,
        plans.effective_date,
        cast(
            plans.effective_date + cast({{ rule_value('SAFETY_PLAN', 'review_interval_days') }} as integer) as date
        ) as current_through_date,
        row_number() over (
            partition by high_risk_clients.period_grain, high_risk_clients.period_start, high_risk_clients.client_id
            order by plans.effective_date desc, plans.safety_plan_id desc
        ) as recency
    from high_risk_clients
    inner join plans
        on high_risk_clients.client_id = plans.client_id
        and plans.effective_date <= high_risk_clients.as_of_date
        and (plans.superseded_date is null or plans.superseded_date > high_risk_clients.as_of_date)
),

final as (
    select
        high_risk_clients.period_grain,
        high_risk_clients.period_start,
        high_risk_clients.as_of_date,
        high_risk_clients.is_current_period,
        high_risk_clients.client_id,
        high_risk_clients.clinician_id,
        in_force.safety_plan_id,
        in_force.current_through_date,
        coalesce(high_risk_clients.as_of_date <= in_force.current_through_date, false) as has_current_plan
    from high_risk_clients
    left join in_force
        on high_risk_clients.period_grain = in_force.period_grain
        and high_risk_clients.period_start = in_force.period_start
        and high_risk_clients.client_id = in_force.client_id
        and in_force.recency = 1
)

select * from final
