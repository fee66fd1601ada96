{#- One row per week or month and client active on its as-of date, with the treatment plan in force then (the one
    reviewed most recently), its last review (the review date once it has happened, else the date it took effect),
    the days since, and whether it is current: no more than TREATMENT_PLAN_REVIEW.review_interval_days since that
    review (out of compliance from the day after). The one definition read by the treatment-plan measure and alerts. -#}
{#- By period like the measures, and recomputed with them: only the window's periods (macros/metric_window.sql). -#}
{{ config(materialized='incremental', incremental_strategy='period_window', on_schema_change='fail') }}

with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
    where {{ metric_window_condition('period_start') }}
),

plans as (
    select * from {{ ref('stg_operational__treatment_plans') }}
),

in_force as (
    select
        active_clients.period_grain,
        active_clients.period_start,
        active_clients.client_id,
        plans.treatment_plan_id,
        case
            when plans.reviewed_date <= active_clients.as_of_date then plans.reviewed_date
            else plans.effective_date
        end as last_review_date
    from active_clients
    inner join plans
        on active_clients.client_id = plans.client_id
        and plans.effective_date <= active_clients.as_of_date
        and (plans.superseded_date is null or plans.superseded_date > active_clients.as_of_date)
),

ranked as (
    select
        *,
        row_number() over (
            partition by period_grain, period_start, client_id
            order by last_review_date desc, treatment_plan_id desc
        ) as recency
    from in_force
),

final as (
    select
        active_clients.period_grain,
        active_clients.period_start,
        active_clients.as_of_date,
        active_clients.is_current_period,
        active_clients.client_id,
        active_clients.clinician_id,
        ranked.treatment_plan_id,
        ranked.last_review_date,
        {{ days_between('ranked.last_review_date', 'active_clients.as_of_date') }} as days_since_review,
        ranked.treatment_plan_id is not null as has_plan_in_force,
        coalesce(
            active_clients.as_of_date <= cast(
                ranked.last_review_date + cast({{ rule_value('TREATMENT_PLAN_REVIEW', 'review_interval_days') }} as integer)
                as date
            ),
            false
        ) as has_current_plan
    from active_clients
    left join ranked
        on active_clients.period_grain = ranked.period_grain
        and active_clients.period_start = ranked.period_start
        and active_clients.client_id = ranked.client_id
        and ranked.recency = 1
)

select * from final
