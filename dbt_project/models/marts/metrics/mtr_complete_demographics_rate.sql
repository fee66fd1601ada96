{#- Complete Demographics Rate (PRD) = clients with every required field (dim_clients.has_complete_demographics)
    / total clients, on each period's as-of date (its last day, today for the running period). Total clients =
    on the practice's books then: registered (intake, else record creation) by that day and not discharged by it,
    whether or not seen recently. Completeness is the store's current state (it keeps no history of edits). -#}
with

periods as (
    select * from {{ ref('int_periods_enumerated') }}
    where period_grain in ('week', 'month') and {{ metric_window_from('period_start') }}
),

clients as (
    select * from {{ ref('dim_clients') }}
),

clients_on_books as (
    select
        periods.period_grain,
        periods.period_start,
        clients.clinician_id,
        clients.has_complete_demographics
    from periods
    inner join clients
        on clients.registered_date <= periods.as_of_date
        and (clients.discharged_date is null or clients.discharged_date > periods.as_of_date)
),

metric_parts as (
    select
        period_grain,
        period_start,
        clinician_id,
        case when has_complete_demographics then 1 else 0 end as numerator_part,
        1 as denominator_part
    from clients_on_books
),

{{ metric_rollup('complete_demographics_rate', 'metric_parts') }}
