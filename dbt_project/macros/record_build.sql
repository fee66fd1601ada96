{#- on-run-end: one row per dbt invocation in reference.warehouse_builds, so readers of the warehouse can tell
    that it changed (the dashboards drop their cached figures when the latest built_at moves) and analysts can
    see when it was last built. A DuckDB file also says so by its modification time; PostgreSQL has no file. -#}
{% macro record_build() -%}
    {%- if execute and flags.WHICH in ('run', 'build', 'seed', 'snapshot') -%}
        create schema if not exists reference;
        create table if not exists reference.warehouse_builds (
            built_at timestamp with time zone not null,
            invocation_id varchar(64) not null,
            command varchar(16) not null
        );
        insert into reference.warehouse_builds (built_at, invocation_id, command)
        values (current_timestamp, '{{ invocation_id }}', '{{ flags.WHICH }}')
    {%- endif -%}
{%- endmacro %}
