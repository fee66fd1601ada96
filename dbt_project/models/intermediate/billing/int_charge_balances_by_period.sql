{#- Receivables outstanding on each week's and month's as-of date, by clinician, payer and aging bucket.
    Each charge's balance is a run of intervals (constant between two of its movements); an interval meets
    only the as-of dates inside it, so a period x charge pair is never built for a settled charge and no
    period re-sums a charge's history. Materialized: Days in AR and the AR aging mart read it. -#}
{#- By period like the measures, and recomputed with them: only the window's periods (macros/metric_window.sql). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='period_window',
    on_schema_change='fail',
    pre_hook=postgres_work_mem('256MB'),
) }}

with

periods as (
    select * from {{ ref('int_periods_enumerated') }}
    where period_grain in ('week', 'month') and {{ metric_window_condition('period_start') }}
),

-- Only the charges open at some point of the window: a charge settled before the window's first period has no
-- interval there, and the running balances below would otherwise sort every movement of the whole history.
charges as (
    select * from {{ ref('fct_charges') }}
    where not is_void and {{ metric_window_reaches('settled_date') }}
),

-- Every movement of these charges' receivable balance on its practice-local date: the charge itself (+), payments
-- applied (-, a reversal is a negative application and so adds back) and adjustments other than patient
-- responsibility (-; PR only moves the balance from payer to client). fct_charges sums the same movements per
-- charge (its balance_amount and settled_date). Each branch joins the window's charges rather than filtering a
-- union of every charge's movements afterwards: neither warehouse pushes a filter into a union's branches (on the
-- 1,000-clinician practice's PostgreSQL the query took 26-28 s this way against 31-34 s, 2026-12-06, under load).
transactions as (
    select
        charge_id,
        charge_amount as balance_change_amount,
        entered_date as transaction_date
    from charges
    union all
    select
        applications.charge_id,
        -applications.applied_amount as balance_change_amount,
        applications.applied_date as transaction_date
    from {{ ref('int_payment_applications_of_record') }} as applications
    inner join charges on applications.charge_id = charges.charge_id
    union all
    select
        adjustments.charge_id,
        -adjustments.adjustment_amount as balance_change_amount,
        adjustments.adjusted_date as transaction_date
    from {{ ref('int_charge_adjustments_of_record') }} as adjustments
    inner join charges on adjustments.charge_id = charges.charge_id
    where adjustments.group_code <> 'PR'
),

daily_changes as (
    select
        charge_id,
        transaction_date,
        sum(balance_change_amount) as balance_change_amount
    from transactions
    group by 1, 2
),

balance_intervals as (
    select
        charge_id,
        sum(balance_change_amount) over (
            partition by charge_id order by transaction_date rows between unbounded preceding and current row
        ) as balance_amount,
        transaction_date as balance_from_date,
        -- Exclusive: the next movement's date.
        lead(transaction_date) over (partition by charge_id order by transaction_date) as balance_until_date
    from daily_changes
),

-- Charges of one clinician, payer and service date whose balances start and end on the same days behave as
-- one: grouping them first keeps the period join small (most open balances are long-unpaid remainders).
interval_groups as (
    select
        charges.clinician_id,
        charges.payer_id,
        charges.service_date,
        balance_intervals.balance_from_date,
        balance_intervals.balance_until_date,
        count(*) as charge_count,
        sum(balance_intervals.balance_amount) as balance_amount
    from balance_intervals
    inner join charges on balance_intervals.charge_id = charges.charge_id
    where balance_intervals.balance_amount > 0.005
    group by 1, 2, 3, 4, 5
),

aged as (
    select
        periods.period_grain,
        periods.period_start,
        periods.as_of_date,
        interval_groups.clinician_id,
        interval_groups.payer_id,
        case
            when {{ days_between('interval_groups.service_date', 'periods.as_of_date') }} <= 30 then 'CURRENT'
            when {{ days_between('interval_groups.service_date', 'periods.as_of_date') }} <= 60 then '31_60'
            when {{ days_between('interval_groups.service_date', 'periods.as_of_date') }} <= 90 then '61_90'
            when {{ days_between('interval_groups.service_date', 'periods.as_of_date') }} <= 120 then '91_120'
            else '120_PLUS'
        end as aging_bucket,
        interval_groups.charge_count,
        interval_groups.balance_amount
    from periods
    inner join interval_groups
        on interval_groups.balance_from_date <= periods.as_of_date
        and (interval_groups.balance_until_date is null or interval_groups.balance_until_date > periods.as_of_date)
),

final as (
    select
        period_grain,
        period_start,
        clinician_id,
        payer_id,
        aging_bucket,
        sum(charge_count) as charge_count,
        sum(balance_amount) as balance_amount,
        as_of_date
    from aged
    group by 1, 2, 3, 4, 5, 8
)

select * from final
