{#-
    The largest facts (fct_charges, fct_appointments, fct_clinical_notes, fct_claims, fct_payments) are incremental
    with strategy `by_key`:
    the refresh rebuilds only the rows whose inputs changed, listed by the landing in
    refresh_state.fact_key_changes (mentalspace_platform/fact_keys.py decides when the list can be trusted, and
    says so in the environment variable MENTALSPACE_FACTS_BY_KEY). Otherwise, and on --full-refresh, the fact is
    rebuilt whole. Only the rows are keyed, never what they read: a rebuilt row sees all its inputs, so it equals a
    full rebuild's.

    A keyed fact sets `rebuilt`, the SQL of the keys to rebuild (a `key_value` column), filters its inputs with
    rebuilt_only() and ends with rebuilt_rows(). The keys are read where they filter, not from a CTE: PostgreSQL
    then estimates them from the ledger's statistics and reads the few rows by index.

    facts_by_key()                   whether this build rebuilds the keyed facts by key
    changed_keys(table, column)      the landed keys of `table` in `column` ("id" or a reference) that changed
    rows_referring(relation, key, references, every_row_when)
                                     `union` the keys of the rows naming changed keys (every row's when a table
                                     of `every_row_when` changed)
    rebuilt_only(column, keys)       a `where` keeping the rows whose `column` is among `keys` (SQL), by key only
    among_keys(column, keys)         `column` among `keys`, as each warehouse reads it fastest
    rebuilt_rows(key, keys)          the model's final select: by key, the rows of `final` and a row per key to
                                     rebuild with only `rebuilt_key` set, so that the rows whose source is gone
                                     are removed too
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


{#- `union` the keys (`key`) of the rows of `relation` whose reference names a changed key: one branch per (reference
    column, changed table, its column) rather than one scan with `or`, which PostgreSQL takes for most of the rows
    (it then reads whole tables), where it estimates each branch from the ledger's statistics and reads it by index.
-#}
{% macro rows_referring(relation, key, references, every_row_when=[]) -%}
    {%- for reference, table, column in references %}
        union
        select referring.{{ key }} as key_value
        from {{ relation }} as referring
        where referring.{{ reference }} in ({{ changed_keys(table, column) }})
    {%- endfor %}
    {#- And every row when one of these tables (read by every row) changed. -#}
    {%- for table in every_row_when %}
        union
        select every_row.{{ key }} as key_value
        from {{ relation }} as every_row
        where exists ({{ changed_keys(table, 'id') }})
    {%- endfor %}
{%- endmacro %}


{#- `column` is a landed table's key or reference, as it reaches the relation filtered (see among_keys). -#}
{% macro rebuilt_only(column, keys) -%}
    {%- if facts_by_key() %}
        where {{ among_keys(column, keys) }}
    {%- endif -%}
{%- endmacro %}


{#- `column` among the keys `keys` (SQL) selects. On PostgreSQL an array made once: the condition then reaches the
    landed table's index on the column, and only the rows found are projected through the staging views. As a
    semi-join PostgreSQL hashed the keys against a full scan instead, computing every row's time-zone conversions
    first (1.2 s against 0.1 s for 6,000 charges' adjustments at the 1,000-clinician practice). Only for a column
    that is a landed table's key or reference, which the landing indexes (TableWrite.indexed): on a computed
    column, or one above a window function, PostgreSQL compares every row with every key (minutes for the notes). -#}
{% macro among_keys(column, keys) -%}
    {%- if target.type == 'postgres' -%}
        {{ column }} = any(array({{ keys }}))
    {%- else -%}
        {{ column }} in ({{ keys }})
    {%- endif -%}
{%- endmacro %}


{#- `final` stays the preserved side of everything: PostgreSQL cannot flatten a view on the nullable side of an outer
    join and would compute every row of it (seconds of time-zone conversions) before keeping the few rebuilt. -#}
{% macro rebuilt_rows(key, keys) -%}
    {%- if facts_by_key() -%}
        select
            final.*,
            final.{{ key }} as rebuilt_key
        from final
        union all
        select
            {%- for column in adapter.get_columns_in_relation(this) %}
                null as {{ adapter.quote(column.name) }},
            {%- endfor %}
            rebuilt.key_value as rebuilt_key
        from ({{ keys }}) as rebuilt
    {%- else -%}
        select * from final
    {%- endif -%}
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
