{#-
    The largest facts (fct_charges, fct_appointments, fct_clinical_notes, fct_claims, fct_payments) are incremental
    with strategy `by_key`:
    the refresh rebuilds only the rows whose inputs changed, listed by the landing in
    refresh_state.fact_key_changes (mentalspace_platform/fact_keys.py decides when the list can be trusted, and
    says so in the environment variable MENTALSPACE_FACTS_BY_KEY). Otherwise, and on --full-refresh, the fact is
    rebuilt whole. Only the rows are keyed, never what they read: a rebuilt row sees all its inputs, so it equals a
    full rebuild's.

    A keyed fact, when facts_by_key(), filters its inputs to the keys to rebuild (`rebuilt`, a CTE selecting
    `key_value`) and ends with rebuilt_rows(): one row per key, the fact's columns null where the row is gone
    (its source deleted), so that the strategy removes it.

    facts_by_key()                 whether this build rebuilds the keyed facts by key
    changed_keys(table, column)    the landed keys of `table` in `column` ("id" or a reference) that changed
    rebuilt_rows(key)              the model's final select, by key
-#}
{% macro facts_by_key() -%}
    {#- Read only when a model runs: the parse never records it (macros/metric_window.sql says why). -#}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {{ return(is_incremental() and env_var('MENTALSPACE_FACTS_BY_KEY', '') == '1') }}
{%- endmacro %}


{% macro changed_keys(table, column) -%}
    select key_value from refresh_state.fact_key_changes
    where kind = 'keys' and table_name = '{{ table }}' and column_name = '{{ column }}'
{%- endmacro %}


{% macro rebuilt_rows(key) -%}
    select
        final.*,
        rebuilt.key_value as rebuilt_key
    from rebuilt
    left join final on rebuilt.key_value = final.{{ key }}
{%- endmacro %}


{#- Incremental strategy of the keyed facts: by key, replace the rows of the keys rebuilt (dropping those whose
    source is gone); else replace every row, as a run without --full-refresh would. -#}
{% macro get_incremental_by_key_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- if facts_by_key() -%}
        delete from {{ target }} where {{ key }} in (select rebuilt_key from {{ temp }});
        insert into {{ target }} ({{ columns }})
        select {{ columns }} from {{ temp }} where {{ key }} is not null
    {%- else -%}
        {#- Not `delete`: PostgreSQL would keep every old row as a dead one until a vacuum. -#}
        truncate table {{ target }};
        insert into {{ target }} ({{ columns }})
        select {{ columns }} from {{ temp }}
    {%- endif -%}
{%- endmacro %}
