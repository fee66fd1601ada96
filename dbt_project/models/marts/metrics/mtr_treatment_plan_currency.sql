{#- Treatment Plan Currency = active clients with a current treatment plan / active clients, as of each period's end
    (today for the running period). "Current" lives in int_client_treatment_plans_by_period (the treatment-plan
    alerts read the same rows). -#}
with

plan_status as (
    select * from {{ ref('int_client_treatment_plans_by_period') }}
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

{{ metric_rollup('treatment_plan_currency', 'metric_parts') }}
