{#- Days in Accounts Receivable = receivables outstanding at the end of the period's as-of date / average
    daily charges over the `ar_lookback_days` (default 90) days up to it (fewer at the start of the data).
    Receivable = charge - payments applied - non-PR adjustments, for non-void charges entered by then. -#}
with

periods as (
    select * from {{ ref('int_periods_enumerated') }}
    where period_grain in ('week', 'month') and {{ metric_window_from('period_start') }}
),

balances as (
    select * from {{ ref('int_charge_balances_by_period') }}
    where {{ metric_window_from('period_start') }}
),

charges as (
    select * from {{ ref('fct_charges') }}
    where not is_void
),

daily_charges as (
    select
        clinician_id,
        entered_date,
        sum(charge_amount) as charge_amount
    from charges
    group by 1, 2
),

first_charge as (
    select min(entered_date) as first_entered_date from charges
),

lookback as (
    select
        periods.period_grain,
        periods.period_start,
        periods.as_of_date,
        -- Days of data behind the average: the full lookback, or fewer at the start of the data.
        case
            when {{ days_between('first_charge.first_entered_date', 'periods.as_of_date') }} + 1 < {{ var('ar_lookback_days', 90) }}
                then {{ days_between('first_charge.first_entered_date', 'periods.as_of_date') }} + 1
            else {{ var('ar_lookback_days', 90) }}
        end as lookback_days
    from periods
    cross join first_charge
    where first_charge.first_entered_date <= periods.as_of_date
),

average_daily_charges as (
    select
        lookback.period_grain,
        lookback.period_start,
        daily_charges.clinician_id,
        0 as numerator_part,
        round(cast(sum(daily_charges.charge_amount) as numeric(18, 4)) / max(lookback.lookback_days), 4)
            as denominator_part
    from lookback
    inner join daily_charges
        on daily_charges.entered_date <= lookback.as_of_date
        and daily_charges.entered_date > lookback.as_of_date - cast(lookback.lookback_days as integer)
    group by 1, 2, 3
),

receivables as (
    select
        period_grain,
        period_start,
        clinician_id,
        sum(balance_amount) as numerator_part,
        0 as denominator_part
    from balances
    group by 1, 2, 3
),

metric_parts as (
    select * from average_daily_charges
    union all
    select * from receivables
),

{{ metric_rollup('days_in_ar', 'metric_parts', value='ratio') }}
