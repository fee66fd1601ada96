{#- Safety Plan Compliance = active high-risk clients (high-risk or suicidal-ideation flag) with a current
    safety plan / active high-risk clients, as of each period's end. Current = in effect, not superseded,
    and within SAFETY_PLAN.review_interval_days of taking effect. The risk flags are the store's current
    ones (the store keeps no history of them). -#}
with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
    where needs_safety_plan
),

plans as (
    select * from {{ ref('stg_operational__safety_plans') }}
),

covered as (
    select
        active_clients.period_grain,
        active_clients.period_start,
        active_clients.client_id
    from active_clients
    inner join plans
        on active_clients.client_id = plans.client_id
        and plans.effective_date <= active_clients.as_of_date
        and (plans.superseded_date is null or plans.superseded_date > active_clients.as_of_date)
        and active_clients.as_of_date <= cast(
            plans.effective_date + cast({{ rule_value('SAFETY_PLAN', 'review_interval_days') }} as integer) as date
        )
    group by 1, 2, 3
),

metric_parts as (
    select
        active_clients.period_grain,
        active_clients.period_start,
        active_clients.clinician_id,
        case when covered.client_id is not null then 1 else 0 end as numerator_part,
        1 as denominator_part
    from active_clients
    left join covered
        on active_clients.period_grain = covered.period_grain
        and active_clients.period_start = covered.period_start
        and active_clients.client_id = covered.client_id
),

{{ metric_rollup('safety_plan_compliance', 'metric_parts') }}
