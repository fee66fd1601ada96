{#-
    A backfill of the measures recomputes only the periods starting in a window and merges them into the metric
    tables (models/marts/metrics, incremental strategy `period_window`); everything else is a full rebuild.

    The window is the vars period_start and period_end (inclusive ISO dates); Dagster passes a range of month
    partitions (orchestration/defs/dbt/assets.py), and runs without one with --full-refresh. Only the periods are
    windowed, never the inputs: a period's figure still sees all the history it reads (lookbacks, the previous
    period, the six months of a deviation benchmark), so a window's rows equal a full rebuild's.

    metric_window()                  [start, end] (ISO dates) of this incremental build's window, or none (all)
    metric_window_condition(column)  `column` in the window, as SQL (true when there is no window)
-#}
{% macro metric_window() -%}
    {%- set first, last = var('period_start', none), var('period_end', none) -%}
    {%- if first is none and last is none -%}{{ return(none) }}{%- endif -%}
    {%- if first is none or last is none -%}
        {{ exceptions.raise_compiler_error("set both vars period_start and period_end (inclusive dates), or neither") }}
    {%- endif -%}
    {%- set window = [first | string, last | string] -%}
    {%- if window[0] > window[1] -%}
        {{ exceptions.raise_compiler_error("period_start " ~ first ~ " is after period_end " ~ last) }}
    {%- endif -%}
    {#- A first build (no table yet) or --full-refresh builds every period whatever the vars say. -#}
    {{ return(window if is_incremental() else none) }}
{%- endmacro %}


{#- `lead_days` widens the window backwards: metric_rollup also needs the period before the window's first. -#}
{% macro metric_window_condition(column, lead_days=0) -%}
    {%- set window = metric_window() -%}
    {%- if window is none -%}
        true
    {%- else -%}
        {{ column }} between cast('{{ window[0] }}' as date) - {{ lead_days }} and cast('{{ window[1] }}' as date)
    {%- endif -%}
{%- endmacro %}


{#- Incremental strategy of the metric tables: replace the window's periods (all of them without a window, as a
    run without --full-refresh would), so a period that lost its rows loses them here too. -#}
{% macro get_incremental_period_window_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }} where {{ metric_window_condition('period_start') }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
