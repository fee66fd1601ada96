{#- Treatment Plan Currency = active clients with a current treatment plan / active clients, as of each
    period's end (today for the running period). Current = in effect on that date, not superseded, and no
    more than TREATMENT_PLAN_REVIEW.review_interval_days since it took effect or was last reviewed. -#}
with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
),

plans as (
    select * from {{ ref('stg_operational__treatment_plans') }}
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
            case
                when plans.reviewed_date <= active_clients.as_of_date then plans.reviewed_date
                else plans.effective_date
            end + cast({{ rule_value('TREATMENT_PLAN_REVIEW', 'review_interval_days') }} as integer) as date
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

{{ metric_rollup('treatment_plan_currency', 'metric_parts') }}
