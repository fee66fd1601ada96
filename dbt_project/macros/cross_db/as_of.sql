{#- Today's date in the practice's time zone, or the pinned var `as_of_date`. -#}
{% macro as_of_date() -%}
    {%- if var('as_of_date', '') | trim -%}
        cast('{{ var("as_of_date") | trim }}' as date)
    {%- else -%}
        cast(current_timestamp at time zone '{{ var("practice_timezone") }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- "Now" as naive UTC: the end of the pinned as-of day, or the current time. -#}
{% macro as_of_at() -%}
    {%- if var('as_of_date', '') | trim -%}
        {{ from_local("cast(" ~ as_of_date() ~ " as timestamp) + interval '1 day'") }}
    {%- else -%}
        cast(current_timestamp at time zone 'UTC' as timestamp)
    {%- endif -%}
{%- endmacro %}

{#- Practice-local wall-clock time as naive UTC: the inverse of to_local. -#}
{% macro from_local(column) -%}
    cast((({{ column }}) at time zone '{{ var("practice_timezone") }}') at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- Whole days from one date to another, on both warehouses. -#}
{% macro days_between(start_date, end_date) -%}
    (cast({{ end_date }} as date) - cast({{ start_date }} as date))
{%- endmacro %}

{#- One compliance rule parameter (operational_api's compliance_rules), as a scalar. -#}
{% macro rule_value(rule_type, parameter, license_column=none) -%}
    (
        select max(rules.rule_value)
        from {{ ref('stg_operational__compliance_rules') }} as rules
        where rules.rule_type = '{{ rule_type }}'
            and rules.parameter = '{{ parameter }}'
            and rules.is_active
            {% if license_column %}and rules.license_type = {{ license_column }}{% endif %}
    )
{%- endmacro %}
