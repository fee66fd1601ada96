{#- Safety Plan Compliance = active high-risk clients (high-risk or suicidal-ideation flag) with a current safety
    plan / active high-risk clients, as of each period's end. "Current" lives in int_client_safety_plans_by_period
    (the missing-safety-plan alert reads the same rows). -#}
with

plan_status as (
    select * from {{ ref('int_client_safety_plans_by_period') }}
    where {{ metric_window_from('period_start') }}
),

metric_parts as (
    select
        period_grain,
        period_start,
        clinician_id,
        case when has_current_plan then 1 else 0 end as numerator_part,
        1 as denominator_part
    from plan_status
),

{{ metric_rollup('safety_plan_compliance', 'metric_parts') }}
