{#- The population of the point-in-time measures: who was in care on each week's and month's as-of date.
    Materialized: eight measures join it, and the period x spell range join is the costly part. By period like
    the measures, and recomputed with them: only the window's periods (macros/metric_window.sql). A change to a
    visit moves the spells it opens or extends, which cover as-of dates on and after it, inside the window; a
    client's own change (clinician, self-pay, discharge) recomputes every period. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='period_window',
    on_schema_change='fail',
) }}

with

periods as (
    select * from {{ ref('int_periods_enumerated') }}
    where period_grain in ('week', 'month') and {{ metric_window_condition('period_start') }}
),

spells as (
    select * from {{ ref('int_client_active_spells') }}
),

clients as (
    select * from {{ ref('dim_clients') }}
),

active as (
    select
        periods.period_grain,
        periods.period_start,
        periods.as_of_date,
        periods.is_current_period,
        spells.client_id
    from periods
    inner join spells
        on spells.active_from_date <= periods.as_of_date
        and spells.active_until_date > periods.as_of_date
),

final as (
    select
        active.period_grain,
        active.period_start,
        active.client_id,
        clients.clinician_id,
        clients.needs_safety_plan,
        clients.is_emancipated,
        clients.is_self_pay,
        clients.has_complete_demographics,
        active.as_of_date,
        active.is_current_period,
        clients.portal_activated_date
    from active
    inner join clients on active.client_id = clients.client_id
)

select * from final
