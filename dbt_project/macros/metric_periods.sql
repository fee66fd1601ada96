{#-
    The shared shape of every rate metric: sum a numerator and a denominator per clinician and
    for the whole practice, per Monday-start week and per month, and compare each period with
    the one before it. `events` must have clinician_id, `date_column`, and the two expressions.
    Output columns match the metrics contract (see _metrics__models.yml).
-#}
{% macro metric_periods(metric_key, events, date_column, numerator, denominator, value_expr='pct') %}
with

events as (
    select * from {{ events }} as metric_events
),

by_grain as (
    {% for grain in ['week', 'month'] %}
    select
        '{{ grain }}' as period_grain,
        {% if grain == 'week' %}{{ week_start(date_column) }}{% else %}{{ month_start(date_column) }}{% endif %} as period_start,
        clinician_id,
        {{ numerator }} as numerator_part,
        {{ denominator }} as denominator_part
    from events
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

per_clinician as (
    select
        'clinician' as scope,
        period_grain,
        period_start,
        clinician_id,
        sum(numerator_part) as numerator,
        sum(denominator_part) as denominator
    from by_grain
    group by 1, 2, 3, 4
),

per_practice as (
    select
        'practice' as scope,
        period_grain,
        period_start,
        cast(null as bigint) as clinician_id,
        sum(numerator_part) as numerator,
        sum(denominator_part) as denominator
    from by_grain
    group by 1, 2, 3
),

combined as (
    select * from per_clinician
    union all
    select * from per_practice
),

valued as (
    select
        *,
        {% if value_expr == 'pct' %}{{ safe_pct('numerator', 'denominator') }}{% else %}{{ value_expr }}{% endif %} as metric_value
    from combined
),

final as (
    select
        cast('{{ metric_key }}' as varchar) as metric_key,
        cast(scope as varchar) as scope,
        cast(period_grain as varchar) as period_grain,
        cast(period_start as date) as period_start,
        cast(clinician_id as bigint) as clinician_id,
        cast(numerator as numeric(18, 4)) as numerator,
        cast(denominator as numeric(18, 4)) as denominator,
        cast(metric_value as numeric(18, 4)) as metric_value,
        cast(lag(metric_value) over (
            partition by scope, clinician_id, period_grain order by period_start
        ) as numeric(18, 4)) as previous_value,
        cast(metric_value - lag(metric_value) over (
            partition by scope, clinician_id, period_grain order by period_start
        ) as numeric(18, 4)) as change_from_previous
    from valued
)

select * from final
{% endmacro %}
