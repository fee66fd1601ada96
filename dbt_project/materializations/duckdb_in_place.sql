{#-
    DuckDB's views and tables built in place, in one `create or replace` statement.

    dbt's own materializations build a model under a temporary name, rename the old relation away, rename the new one
    into place and drop the old: an atomic swap for databases whose DDL is not transactional. Each rename and drop is
    a separate adapter macro call, with a macro context of its own: a profile of a full build of the demo practice
    put 19 % of dbt's CPU in them. DuckDB replaces a view or table in one statement, atomically (the old relation
    stays if the select fails), so the swap buys nothing there; every build also writes a staged copy of the
    warehouse file (mentalspace_platform/warehouse.py), which readers never see until it is swapped in whole.

    PostgreSQL keeps dbt's swap: `create or replace view` there cannot drop or retype a column, and a table has no
    `or replace`. Kept in its own macro path, outside sqlfluff's macro folder: its jinja templater does not know the
    `materialization` tag. tests/dbt/test_in_place_materializations.py holds the cases: a first build, a rebuild, a
    failed rebuild, a model that changes kind, an enforced contract, incremental runs and schema changes.
-#}

{% materialization view, adapter='duckdb', supported_languages=['sql'] %}
    {%- set target_relation = this.incorporate(type='view') -%}
    {{ mentalspace_replace_in_place(target_relation, get_replace_view_sql(target_relation, sql)) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% materialization table, adapter='duckdb', supported_languages=['sql'] %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {{ mentalspace_replace_in_place(target_relation, get_replace_table_sql(target_relation, compiled_code)) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- An incremental model rebuilt whole (--full-refresh, or a view in its place) is replaced in place too; its first
    build and its incremental runs are dbt-duckdb's (a first build creates the table directly, with no swap). Leaner
    incremental runs (without dbt's varchar widening, a no-op on DuckDB that reads both tables' columns) made no
    difference to the 100-clinician refresh (three alternating pairs, 2026-12-07), so they stay dbt-duckdb's. -#}
{% materialization incremental, adapter='duckdb', supported_languages=['sql'] %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if existing_relation is none or not (should_full_refresh() or existing_relation.is_view) -%}
        {{ return(dbt.materialization_incremental_duckdb()) }}
    {%- endif -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {{ mentalspace_replace_in_place(target_relation, get_replace_table_sql(target_relation, compiled_code)) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- The steps all three share, in dbt's order: hooks outside and inside the transaction, a relation of the other kind
    dropped first (a view cannot replace a table), grants and docs, the commit. -#}
{% macro mentalspace_replace_in_place(target_relation, replace_sql) %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- if existing_relation is not none and existing_relation.type != target_relation.type -%}
        {% do adapter.drop_relation(existing_relation) %}
    {%- endif -%}
    {% call statement('main') -%}
        {{ replace_sql }}
    {%- endcall %}
    {% do apply_grants(target_relation, config.get('grants'), should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
{% endmacro %}


{#- dbt's hooks for `create or replace`, which dbt-duckdb leaves unimplemented. As dbt-duckdb's create_view_as and
    create_table_as, with `or replace`: the model's sql_header first, and an enforced contract checked (a view) or
    declared as the table's columns and constraints. -#}
{% macro duckdb__get_replace_view_sql(relation, sql) -%}
    {%- if config.get('contract').enforced -%}
        {{ get_assert_columns_equivalent(sql) }}
    {%- endif -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {{ sql_header if sql_header is not none }}
    create or replace view {{ relation }} as (
        {{ sql }}
    );
{%- endmacro %}


{% macro duckdb__get_replace_table_sql(relation, sql) -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {{ sql_header if sql_header is not none }}
    {%- if config.get('contract').enforced %}
        {{ get_assert_columns_equivalent(sql) }}
        create or replace table {{ relation }} {{ get_table_columns_and_constraints() }};
        insert into {{ relation }} {{ get_column_names() }} (
            {{ get_select_subquery(sql) }}
        );
    {%- else %}
        create or replace table {{ relation }} as (
            {{ sql }}
        );
    {%- endif %}
{%- endmacro %}
