{#- A naive UTC timestamp as wall-clock time in the practice's time zone.
    DuckDB (ICU) and PostgreSQL both read the double AT TIME ZONE this way. -#}
{% macro to_local(column) -%}
    (({{ column }} at time zone 'UTC') at time zone '{{ var("practice_timezone") }}')
{%- endmacro %}

{#- Monday of the week / first of the month of a date, as a date, on both warehouses. -#}
{% macro week_start(date_expr) -%}
    cast(date_trunc('week', {{ date_expr }}) as date)
{%- endmacro %}

{% macro month_start(date_expr) -%}
    cast(date_trunc('month', {{ date_expr }}) as date)
{%- endmacro %}

{#- A ratio as a percentage, null when there is nothing to divide by. -#}
{% macro safe_pct(numerator, denominator) -%}
    case when {{ denominator }} > 0 then round(cast(100.0 * {{ numerator }} / {{ denominator }} as numeric), 2) end
{%- endmacro %}
