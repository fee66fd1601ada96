{#- Outstanding charges on each week's and month's as-of date with their balance then and their age.
    Only charges open on that date are paired with it (entered by then, not yet settled), so each charge
    meets a handful of periods rather than all of them. Materialized: Days in AR and the AR aging mart read it. -#}
{{ config(materialized='table') }}

with

periods as (
    select * from {{ ref('int_periods_enumerated') }}
    where period_grain in ('week', 'month')
),

charges as (
    select * from {{ ref('fct_charges') }}
    where not is_void
),

transactions as (
    select * from {{ ref('int_charge_transactions_unioned') }}
),

open_pairs as (
    select
        periods.period_grain,
        periods.period_start,
        periods.as_of_date,
        charges.charge_id,
        charges.client_id,
        charges.clinician_id,
        charges.payer_id,
        charges.service_date
    from periods
    inner join charges
        on charges.entered_date <= periods.as_of_date
        and (charges.settled_date is null or charges.settled_date > periods.as_of_date)
),

balanced as (
    select
        open_pairs.period_grain,
        open_pairs.period_start,
        open_pairs.as_of_date,
        open_pairs.charge_id,
        sum(transactions.balance_change_amount) as balance_amount
    from open_pairs
    inner join transactions
        on open_pairs.charge_id = transactions.charge_id
        and transactions.transaction_date <= open_pairs.as_of_date
    group by 1, 2, 3, 4
),

final as (
    select
        open_pairs.period_grain,
        open_pairs.period_start,
        open_pairs.charge_id,
        open_pairs.client_id,
        open_pairs.clinician_id,
        open_pairs.payer_id,
        {{ days_between('open_pairs.service_date', 'open_pairs.as_of_date') }} as age_days,
        case
            when {{ days_between('open_pairs.service_date', 'open_pairs.as_of_date') }} <= 30 then 'CURRENT'
            when {{ days_between('open_pairs.service_date', 'open_pairs.as_of_date') }} <= 60 then '31_60'
            when {{ days_between('open_pairs.service_date', 'open_pairs.as_of_date') }} <= 90 then '61_90'
            when {{ days_between('open_pairs.service_date', 'open_pairs.as_of_date') }} <= 120 then '91_120'
            else '120_PLUS'
        end as aging_bucket,
        balanced.balance_amount,
        open_pairs.service_date,
        open_pairs.as_of_date
    from open_pairs
    inner join balanced
        on open_pairs.period_grain = balanced.period_grain
        and open_pairs.period_start = balanced.period_start
        and open_pairs.charge_id = balanced.charge_id
    where balanced.balance_amount > 0.005
)

select * from final
