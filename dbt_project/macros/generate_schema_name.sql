{#- Layers land in plain schemas (staging, intermediate, marts, reference) on both warehouses,
    so an analyst's SQL reads the same on DuckDB and PostgreSQL. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
