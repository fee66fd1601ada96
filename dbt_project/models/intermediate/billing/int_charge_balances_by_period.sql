{#- Receivables outstanding on each week's and month's as-of date, by clinician, payer and aging bucket.
    Each charge's balance is a run of intervals (constant between two of its movements), each split where the
    charge's age crosses into the next aging bucket. A piece adds its balance and one charge to its bucket on the day
    it starts and takes them away on the day it ends; each period's figure is the running sum of those changes up to
    its as-of date. So the work grows with the open charges' movements and bucket changes, not with charges times
    periods (joining each interval to the as-of dates it spans made 13 M rows for 0.9 M on the 1,000-clinician
    practice). Materialized: Days in AR and the AR aging mart read it. -#}
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

transactions as (
    {{ charge_transactions('charges') }}
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

-- Days since the service date, from and until (exclusive; null: unbounded): 0-30 days is CURRENT, and so on.
aging_buckets as (
    select
        'CURRENT' as aging_bucket,
        cast(null as integer) as from_days,
        31 as until_days
    union all
    select
        '31_60' as aging_bucket,
        31 as from_days,
        61 as until_days
    union all
    select
        '61_90' as aging_bucket,
        61 as from_days,
        91 as until_days
    union all
    select
        '91_120' as aging_bucket,
        91 as from_days,
        121 as until_days
    union all
    select
        '120_PLUS' as aging_bucket,
        121 as from_days,
        cast(null as integer) as until_days
),

window_bounds as (
    select
        min(case when period_grain = 'week' then period_start end) as first_week_start,
        min(case when period_grain = 'month' then period_start end) as first_month_start,
        min(period_start) as first_day,
        max(as_of_date) as last_day
    from periods
),

-- greatest() and least() skip nulls on both warehouses: a null bound is an unbounded end.
aged_pieces as (
    select
        charges.clinician_id,
        charges.payer_id,
        aging_buckets.aging_bucket,
        balance_intervals.balance_amount,
        greatest(balance_intervals.balance_from_date, charges.service_date + aging_buckets.from_days)
            as piece_from_date,
        least(balance_intervals.balance_until_date, charges.service_date + aging_buckets.until_days)
            as piece_until_date
    from balance_intervals
    inner join charges on balance_intervals.charge_id = charges.charge_id
    cross join aging_buckets
    where
        balance_intervals.balance_amount > 0.005
        -- A charge without a service date has no age to bucket by: it counts as 120_PLUS.
        and (charges.service_date is not null or aging_buckets.aging_bucket = '120_PLUS')
),

-- Only pieces holding some day of the window: one that ends before it would add and take away in its first period.
window_pieces as (
    select aged_pieces.*
    from aged_pieces
    cross join window_bounds
    where
        (aged_pieces.piece_until_date is null or aged_pieces.piece_until_date > aged_pieces.piece_from_date)
        and (aged_pieces.piece_until_date is null or aged_pieces.piece_until_date > window_bounds.first_day)
        and aged_pieces.piece_from_date <= window_bounds.last_day
),

bucket_changes as (
    select
        clinician_id,
        payer_id,
        aging_bucket,
        piece_from_date as change_date,
        1 as charge_count_change,
        balance_amount as balance_change_amount
    from window_pieces
    union all
    select
        clinician_id,
        payer_id,
        aging_bucket,
        piece_until_date as change_date,
        -1 as charge_count_change,
        -balance_amount as balance_change_amount
    from window_pieces
    where piece_until_date is not null
),

-- Each change in the period holding its day (the window's first period for any day before it); a change after the
-- window's last as-of date reaches none of its periods.
changes_by_period as (
    select
        'week' as period_grain,
        greatest({{ week_start('bucket_changes.change_date') }}, window_bounds.first_week_start) as period_start,
        bucket_changes.clinician_id,
        bucket_changes.payer_id,
        bucket_changes.aging_bucket,
        bucket_changes.charge_count_change,
        bucket_changes.balance_change_amount
    from bucket_changes
    cross join window_bounds
    where bucket_changes.change_date <= window_bounds.last_day
    union all
    select
        'month' as period_grain,
        greatest({{ month_start('bucket_changes.change_date') }}, window_bounds.first_month_start) as period_start,
        bucket_changes.clinician_id,
        bucket_changes.payer_id,
        bucket_changes.aging_bucket,
        bucket_changes.charge_count_change,
        bucket_changes.balance_change_amount
    from bucket_changes
    cross join window_bounds
    where bucket_changes.change_date <= window_bounds.last_day
),

-- Every period of each (clinician, payer, bucket) that changed in the window, so a running total carries into the
-- periods where nothing changed.
series as (
    select distinct
        clinician_id,
        payer_id,
        aging_bucket
    from window_pieces
),

period_changes as (
    select
        period_grain,
        period_start,
        clinician_id,
        payer_id,
        aging_bucket,
        sum(charge_count_change) as charge_count_change,
        sum(balance_change_amount) as balance_change_amount
    from (
        select
            periods.period_grain,
            periods.period_start,
            series.clinician_id,
            series.payer_id,
            series.aging_bucket,
            0 as charge_count_change,
            0 as balance_change_amount
        from series
        cross join periods
        union all
        select * from changes_by_period
    ) as stacked
    group by 1, 2, 3, 4, 5
),

running as (
    select
        period_grain,
        period_start,
        clinician_id,
        payer_id,
        aging_bucket,
        sum(charge_count_change) over (
            partition by period_grain, clinician_id, payer_id, aging_bucket
            order by period_start rows between unbounded preceding and current row
        ) as charge_count,
        sum(balance_change_amount) over (
            partition by period_grain, clinician_id, payer_id, aging_bucket
            order by period_start rows between unbounded preceding and current row
        ) as balance_amount
    from period_changes
),

final as (
    select
        running.period_grain,
        running.period_start,
        running.clinician_id,
        running.payer_id,
        running.aging_bucket,
        running.charge_count,
        running.balance_amount,
        periods.as_of_date
    from running
    inner join periods
        on running.period_grain = periods.period_grain and running.period_start = periods.period_start
    where running.charge_count > 0
)

select * from final
