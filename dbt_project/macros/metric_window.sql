{#-
    A backfill of the measures recomputes only the periods starting in a window and merges them into the metric
    tables (models/marts/metrics, incremental strategy `period_window`); everything else is a full rebuild.
    The by-period intermediates the measures read that cost most (int_client_consents_by_period,
    int_client_treatment_plans_by_period, int_charge_balances_by_period) use the same strategy: a refresh
    recomputes their window's periods in the models' build, with the window the measures' build then uses.

    The window is the environment variables MENTALSPACE_PERIOD_START and MENTALSPACE_PERIOD_END (inclusive ISO
    dates); Dagster passes a range of month partitions (orchestration/defs/dbt/partitions.py), or, in a run without
    one, the periods its landed changes touch (mentalspace_platform/measure_window.py: the lookahead rule lives
    there), or --full-refresh. Not dbt vars: dbt re-parses the whole project whenever --vars differ from the last
    parse's (about 3 s of every refresh, each with its own window), and the variables are read only when a model
    runs (`execute`), so the parse never records them and they never invalidate it. Only the periods are
    windowed, never the inputs: a period's figure still sees all the history it reads (lookbacks, the previous
    period, the six months of a deviation benchmark), so a window's rows equal a full rebuild's.

    metric_window()                  [start, end] (ISO dates) of this incremental build's window, or none (all)
    metric_window_condition(column)  `column` in the window, as SQL (true when there is no window)
    metric_window_from(column)       `column` (an input's date) on or after the first day the rollup reads
    metric_window_reaches(column)    `column` (an end date; null = still running) on or after the window's start
    metric_window_rows(measures)     the rows a build replaces: its window's periods, and (`measures`) every
                                     period of the measures recomputed whole (meta recompute_every_period)
-#}
{% macro metric_window() -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set first = env_var('MENTALSPACE_PERIOD_START', '') or none -%}
    {%- set last = env_var('MENTALSPACE_PERIOD_END', '') or none -%}
    {%- if first is none and last is none -%}{{ return(none) }}{%- endif -%}
    {%- if first is none or last is none -%}
        {{ exceptions.raise_compiler_error("set both MENTALSPACE_PERIOD_START and MENTALSPACE_PERIOD_END (inclusive dates), or neither") }}
    {%- endif -%}
    {%- set window = [first | string, last | string] -%}
    {%- if window[0] > window[1] -%}
        {{ exceptions.raise_compiler_error("MENTALSPACE_PERIOD_START " ~ first ~ " is after MENTALSPACE_PERIOD_END " ~ last) }}
    {%- endif -%}
    {#- A first build (no table yet) or --full-refresh builds every period whatever the window says; so does a measure
        whose periods read arbitrarily later data (meta recompute_every_period: no window could cover its changes,
        mentalspace_platform/measure_window.py). -#}
    {#- meta_get, not config.get('meta'): a parse gets "" from config.get.
        `is defined`: sqlfluff's stand-in for config has no meta_get. -#}
    {%- if config.meta_get is defined and config.meta_get('recompute_every_period', false) -%}
        {{ return(none) }}
    {%- endif -%}
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


{#- An input dated by `column` (a date or timestamp), kept from the earliest day a rolled-up period of the window can
    hold: metric_rollup computes the window's periods and the month before its first (for the first period's
    previous value), and a period holds only days on or after its start. Exact, and the measure's costly joins and
    buckets then see the window's rows only (PostgreSQL does not push the rollup's condition through a CTE read
    twice). -#}
{% macro metric_window_from(column, lead_days=31) -%}
    {%- set window = metric_window() -%}
    {%- if window is none -%}
        true
    {%- else -%}
        {{ column }} >= cast('{{ window[0] }}' as date) - {{ lead_days }}
    {%- endif -%}
{%- endmacro %}


{#- For an input whose rows end at `column` (null while still running): the rows a window's periods can meet. -#}
{% macro metric_window_reaches(column) -%}
    {%- set window = metric_window() -%}
    {%- if window is none -%}
        true
    {%- else -%}
        ({{ column }} is null or {{ column }} >= cast('{{ window[0] }}' as date))
    {%- endif -%}
{%- endmacro %}


{#- The measures whose every period is recomputed by every build, by metric_key: fct_practice_metrics holds their
    rows beside the windowed measures' and replaces them all too. -#}
{% macro metric_window_rows(measures=true) -%}
    {%- set whole = [] -%}
    {%- if measures and metric_window() is not none and execute -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.name.startswith('mtr_')
                and node.config.meta.get('recompute_every_period', false) -%}
                {%- do whole.append(node.name[4:]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    ({{ metric_window_condition('period_start') }}
    {%- if whole %} or metric_key in ('{{ whole | sort | join("', '") }}'){% endif %})
{%- endmacro %}


{#- Incremental strategy of the metric tables: replace the window's periods (all of them without a window, as a
    run without --full-refresh would), so a period that lost its rows loses them here too. -#}
{% macro get_incremental_period_window_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {#- The by-period intermediates the measures read (int_*_by_period) use this strategy too: they have no
        metric_key, and no measure recomputed whole among their rows. -#}
    {%- set measures = 'metric_key' in arg_dict['dest_columns'] | map(attribute='name') | map('lower') | list -%}
    delete from {{ arg_dict['target_relation'] }} where {{ metric_window_rows(measures) }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
