{#-
    The shared shape of every measure (see _metrics__models.yml for the contract).

    metric_periods(...)      a whole model for a simple event measure: buckets `events` by day, Monday-start week
                             and month of `date_column`, then metric_rollup.
    metric_from_events(...)  the same inside a model that builds its own CTEs (the events CTE is named).
    metric_rollup(...)       from a CTE of parts (period_grain, period_start, clinician_id, numerator_part,
                             denominator_part): sums per clinician and for the whole practice, the value, and the
                             change against the period just before (by calendar arithmetic, so a period without
                             a row compares with nothing rather than with an older period).

    value: 'pct'       100 * numerator / denominator, 2 decimals (rates and compliance percentages)
           'ratio'     numerator / denominator, 4 decimals (averages: numerator = sum, denominator = count)
           'numerator' the numerator itself (counts and totals; the denominator is context, e.g. hours required)
-#}
{% macro metric_periods(metric_key, events, date_column, numerator, denominator, value='pct', grains=['week', 'month'], value_expr=none) %}
with

metric_events as (
    select * from {{ events }} as metric_events
),

{{ metric_from_events(metric_key, 'metric_events', date_column, numerator, denominator, value=(value_expr or value), grains=grains) }}
{% endmacro %}


{% macro metric_from_events(metric_key, events_cte, date_column, numerator, denominator, value='pct', grains=['week', 'month'], scopes=['clinician', 'practice']) %}
metric_parts as (
    {% for grain in grains %}
    select
        '{{ grain }}' as period_grain,
        {{ period_start_of(grain, date_column) }} as period_start,
        clinician_id,
        {{ numerator }} as numerator_part,
        {{ denominator }} as denominator_part
    from {{ events_cte }}
    where {{ metric_window_from(date_column) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

{{ metric_rollup(metric_key, 'metric_parts', value=value, scopes=scopes) }}
{% endmacro %}


{% macro period_start_of(grain, date_expr) -%}
    {%- if grain == 'day' -%}cast({{ date_expr }} as date)
    {%- elif grain == 'week' -%}{{ week_start(date_expr) }}
    {%- elif grain == 'month' -%}{{ month_start(date_expr) }}
    {%- else -%}{{ exceptions.raise_compiler_error("unknown period grain " ~ grain) }}
    {%- endif -%}
{%- endmacro %}


{#- The start of the period before `period_start` of the same grain (grain is a column). -#}
{% macro previous_period_start(grain_column, period_start) -%}
    case {{ grain_column }}
        when 'day' then cast({{ dbt.dateadd('day', -1, period_start) }} as date)
        when 'week' then cast({{ dbt.dateadd('day', -7, period_start) }} as date)
        else cast({{ dbt.dateadd('month', -1, period_start) }} as date)
    end
{%- endmacro %}


{% macro metric_value_expr(value, numerator, denominator) -%}
    {%- if value == 'pct' -%}{{ safe_pct(numerator, denominator) }}
    {%- elif value == 'ratio' -%}case when {{ denominator }} > 0 then round(cast({{ numerator }} as numeric(18, 4)) / {{ denominator }}, 4) end
    {%- elif value == 'numerator' -%}{{ numerator }}
    {%- else -%}{{ value }}
    {%- endif -%}
{%- endmacro %}


{% macro metric_rollup(metric_key, parts_cte, value='pct', scopes=['clinician', 'practice']) %}
-- A build's window (macros/metric_window.sql), with the month before it for the first period's previous value: read
-- once here, so that PostgreSQL inlines the parts and filters them early rather than materializing every period.
parts_in_window as (
    select * from {{ parts_cte }}
    where {{ metric_window_condition('period_start', lead_days=31) }}
),
{%- if 'clinician' in scopes %}
per_clinician as (
    select
        'clinician' as scope,
        period_grain,
        period_start,
        clinician_id,
        sum(numerator_part) as numerator,
        sum(denominator_part) as denominator
    from parts_in_window
    where clinician_id is not null
    group by 1, 2, 3, 4
),
{%- endif %}

per_practice as (
    select
        'practice' as scope,
        period_grain,
        period_start,
        cast(null as bigint) as clinician_id,
        sum(numerator_part) as numerator,
        sum(denominator_part) as denominator
    from parts_in_window
    group by 1, 2, 3
),

combined as (
    {% if 'clinician' in scopes %}select * from per_clinician
    union all
    {% endif %}select * from per_practice
),

valued as (
    select
        scope,
        period_grain,
        period_start,
        clinician_id,
        numerator,
        denominator,
        {{ metric_value_expr(value, 'numerator', 'denominator') }} as metric_value,
        {{ previous_period_start('period_grain', 'period_start') }} as previous_period_start
    from combined
),

compared as (
    select
        valued.*,
        previous.metric_value as previous_value
    from valued
    left join valued as previous
        on valued.scope = previous.scope
        and valued.period_grain = previous.period_grain
        and valued.previous_period_start = previous.period_start
        and coalesce(valued.clinician_id, -1) = coalesce(previous.clinician_id, -1)
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
        cast(previous_value as numeric(18, 4)) as previous_value,
        cast(metric_value - previous_value as numeric(18, 4)) as change_from_previous
    from compared
    where {{ metric_window_condition('period_start') }}
)

select * from final
{% endmacro %}
