{#- Client Portal Adoption Rate = active clients whose portal access was activated by the period's end /
    active clients, as of each period's end. -#}
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
        case when portal_activated_date <= as_of_date then 1 else 0 end as numerator_part,
        1 as denominator_part
    from active_clients
),

{{ metric_rollup('portal_adoption_rate', 'metric_parts') }}
