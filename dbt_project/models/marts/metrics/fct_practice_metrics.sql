{#- Every measure (int_practice_metrics_unioned), with whether its period is still running and its green / amber /
    red status (macros/metric_status.sql: the one place the dictionary's bounds are applied). -#}
with

unioned as (
    select * from {{ ref('int_practice_metrics_unioned') }}
),

dictionary as (
    select * from {{ ref('metric_dictionary') }}
),

periods as (
    select * from {{ ref('int_periods_enumerated') }}
),

final as (
    select
        m.*,
        coalesce(periods.is_current_period, false) as is_running_period,
        {{ metric_rag_status('m', 'd', 'coalesce(periods.is_current_period, false)') }} as rag_status
    from unioned as m
    left join dictionary as d on m.metric_key = d.metric_key
    left join periods on m.period_grain = periods.period_grain and m.period_start = periods.period_start
)

select * from final
