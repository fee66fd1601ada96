{#- Active Client Demographics Rate (variant of the PRD's Complete Demographics Rate) = active clients with
    every required field (dim_clients.has_complete_demographics) / active clients (int_active_clients_by_period:
    a COMPLETED visit in the last 90 days and not discharged), as of each period's end. Completeness is the
    store's current state (it keeps no history of edits). -#}
with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
    where {{ metric_window_from('period_start') }}
),

metric_parts as (
    select
        period_grain,
        period_start,
        clinician_id,
        case when has_complete_demographics then 1 else 0 end as numerator_part,
        1 as denominator_part
    from active_clients
),

{{ metric_rollup('active_client_demographics_rate', 'metric_parts') }}
