{#- PostgreSQL plans joins from table statistics, and freshly landed or rebuilt tables have none until
    autovacuum gets round to them (on a busy server, not before the next model reads them). Without them the
    planner guesses a few hundred rows for tables of millions and picks sort-merge plans that spill to disk.
    DuckDB needs none of this, so both macros render nothing there. -#}

{#- on-run-start: statistics for every landed raw_* table, and for the keys the landing listed for the keyed facts
    (macros/fact_keys.sql): without them the planner takes the list for one row and joins a fact's millions of rows
    to it in a nested loop (an hour for the 1,000-clinician practice's working day). -#}
{% macro analyze_landed_tables() -%}
    {%- if target.type == 'postgres' -%}
        do $$
        declare landed record;
        begin
            for landed in
                select schemaname, tablename from pg_tables
                where schemaname like 'raw\_%' or (schemaname = 'refresh_state' and tablename = 'fact_key_changes')
            loop
                execute format('analyze %I.%I', landed.schemaname, landed.tablename);
            end loop;
        end $$
    {%- endif -%}
{%- endmacro %}

{#- post-hook: statistics for a table model as soon as it is built, for the models that read it; a keyed fact's
    (macros/fact_keys.sql) when rebuilt whole only, its few rebuilt rows leave them as they were. -#}
{% macro analyze_built_table() -%}
    {%- set whole_fact = config.get('incremental_strategy') == 'by_key' and not facts_by_key() -%}
    {%- if target.type == 'postgres' and (config.get('materialized') == 'table' or whole_fact) -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- pre-hook: more sort/hash memory for one heavy model's transaction on PostgreSQL. -#}
{% macro postgres_work_mem(size) -%}
    {%- if target.type == 'postgres' -%}
        set local work_mem = '{{ size }}'
    {%- endif -%}
{%- endmacro %}

{#- pre-hook: no nested-loop joins in one model's transaction on PostgreSQL, for a model whose join the planner
    misjudges. fct_practice_metrics joins every measure to its six-month deviation benchmark: the planner takes the
    benchmarks (a seed-filtered aggregate) for one row and loops over them per measure row, which is quadratic in
    the measures: 8 s instead of 0.3 s on the 25-clinician practice, and most of a 470 s refresh on the
    100-clinician one, with the same rows either way. -#}
{% macro postgres_without_nested_loops() -%}
    {%- if target.type == 'postgres' -%}
        set local enable_nestloop = off
    {%- endif -%}
{%- endmacro %}

{#- post-hook: a b-tree index on `columns` (a list) of a large table the dashboards filter, on PostgreSQL (DuckDB
    scans its columns fast without one). Unnamed, and made only when the table has none on those columns: a rebuilt
    table keeps its predecessor's index name until the old one is dropped, after the hook. -#}
{% macro postgres_index(columns) -%}
    {%- if target.type == 'postgres' -%}
        {%- set column_list = columns | join(', ') -%}
        do $$
        begin
            if not exists (
                select 1 from pg_indexes
                where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
                    and indexdef like '%({{ column_list }})'
            ) then
                create index on {{ this }} ({{ column_list }});
            end if;
        end $$
    {%- endif -%}
{%- endmacro %}
