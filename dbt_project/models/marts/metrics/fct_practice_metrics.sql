{#- Every measure (int_practice_metrics_unioned), with whether its period is still running and its green / amber /
    red status (macros/metric_status.sql: the one place the dictionary's bounds are applied). -#}
{#- Indexed on PostgreSQL for the dashboards, which read a few measures' periods at a time: a 1,000-clinician group
    has millions of rows here, and a scan of them all took 1.6 s of Practice Overview's first render. -#}
{{ config(
    pre_hook=postgres_without_nested_loops(),
    post_hook="{{ postgres_index(['metric_key', 'period_grain', 'period_start']) }}",
) }}

with

-- A backfill's or refresh's periods only, and every period of the measures recomputed whole
-- (macros/metric_window.sql). Read apart from the benchmarks' earlier months below: one CTE read by both was
-- materialized whole by PostgreSQL, every period of every measure (9 M rows at 1,000 clinicians).
unioned as (
    select * from {{ ref('int_practice_metrics_unioned') }}
    where {{ metric_window_rows() }}
),

dictionary as (
    select * from {{ ref('metric_dictionary') }}
),

deviation_measures as (
    select * from unioned
    where metric_key in (
            select d.metric_key from dictionary as d
            where d.alert_operator = 'deviation_pct'
        )
),

-- The periods the benchmarks pool: the deviation measures' six months before the earliest period held to one.
benchmarked_periods as (
    select * from {{ ref('int_practice_metrics_unioned') }}
    where
        metric_key in (select m.metric_key from deviation_measures as m)
        and period_start >= (
            select cast(min(m.period_start) - interval '6 month' as date) from deviation_measures as m
        )
),

periods as (
    select * from {{ ref('int_periods_enumerated') }}
),

-- Measures without a fixed benchmark (alert_operator deviation_pct: average reimbursement, whose level depends on
-- the payer mix) are held to the same scope's own value over the six months before the period, pooled.
deviation_benchmarks as (
    select
        m.metric_key,
        m.scope,
        m.clinician_id,
        m.period_grain,
        m.period_start,
        case
            when sum(earlier.denominator) > 0 and sum(earlier.numerator) > 0
                then cast(sum(earlier.numerator) / sum(earlier.denominator) as numeric(18, 4))
        end as deviation_benchmark
    from deviation_measures as m
    inner join benchmarked_periods as earlier
        on m.metric_key = earlier.metric_key
        and m.scope = earlier.scope
        and coalesce(m.clinician_id, -1) = coalesce(earlier.clinician_id, -1)
        and m.period_grain = earlier.period_grain
        and earlier.period_start >= cast(m.period_start - interval '6 month' as date)
        and earlier.period_start < m.period_start
    group by 1, 2, 3, 4, 5
),

flagged as (
    select
        m.*,
        b.deviation_benchmark,
        coalesce(periods.is_current_period, false) as is_running_period,
        -- Over for at least the dictionary's alert_lag_days (claims settle for weeks after a month ends).
        coalesce(
            cast(periods.period_end + cast(coalesce(d.alert_lag_days, 0) as integer) as date) < {{ as_of_date() }},
            false
        ) as is_settled_period,
        d.alert_operator,
        d.direction,
        d.benchmark_value,
        d.benchmark_low,
        d.benchmark_high,
        d.alert_threshold,
        d.alert_low,
        d.alert_high
    from unioned as m
    left join dictionary as d on m.metric_key = d.metric_key
    left join periods on m.period_grain = periods.period_grain and m.period_start = periods.period_start
    left join deviation_benchmarks as b
        on m.metric_key = b.metric_key
        and m.scope = b.scope
        and coalesce(m.clinician_id, -1) = coalesce(b.clinician_id, -1)
        and m.period_grain = b.period_grain
        and m.period_start = b.period_start
),

final as (
    select
        metric_key,
        scope,
        period_grain,
        period_start,
        clinician_id,
        numerator,
        denominator,
        metric_value,
        previous_value,
        change_from_previous,
        is_running_period,
        is_settled_period,
        -- Cast to the contract's types: a backfill merges its rows into the table (on_schema_change: fail), and
        -- PostgreSQL would otherwise type them numeric and text.
        cast(deviation_benchmark as numeric(18, 4)) as deviation_benchmark,
        cast(
            {{ metric_rag_status('flagged', 'flagged', 'is_running_period', 'is_settled_period') }} as varchar
        ) as rag_status
    from flagged
)

select * from final
