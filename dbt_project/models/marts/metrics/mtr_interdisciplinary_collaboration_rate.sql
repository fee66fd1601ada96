{#- Interdisciplinary Collaboration Rate = active clients (cases) with at least one contribution from another
    discipline (case_inputs) on or before the period's end / active clients, as of each period's end. -#}
with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
    where {{ metric_window_from('period_start') }}
),

case_inputs as (
    select * from {{ ref('stg_operational__case_inputs') }}
),

first_inputs as (
    select
        client_id,
        min(input_date) as first_input_date
    from case_inputs
    group by 1
),

metric_parts as (
    select
        active_clients.period_grain,
        active_clients.period_start,
        active_clients.clinician_id,
        case when first_inputs.first_input_date <= active_clients.as_of_date then 1 else 0 end as numerator_part,
        1 as denominator_part
    from active_clients
    left join first_inputs on active_clients.client_id = first_inputs.client_id
),

{{ metric_rollup('interdisciplinary_collaboration_rate', 'metric_parts') }}
