{#- Which system holds the practice's record of a domain: 'store' (our operational store) or 'advancedmd'.
    One home: the dbt vars scheduling_system_of_record / billing_system_of_record, set from the environment
    (MENTALSPACE_SCHEDULING_RECORD / MENTALSPACE_BILLING_RECORD). A misspelt value fails the build rather than
    silently reading the store. -#}
{% macro system_of_record(domain) -%}
    {%- set value = var(domain ~ '_system_of_record', 'store') | trim | lower -%}
    {%- if execute and value not in ('store', 'advancedmd') -%}
        {{ exceptions.raise_compiler_error(
            domain ~ "_system_of_record is '" ~ value ~ "': choose store or advancedmd") }}
    {%- endif -%}
    {{- value -}}
{%- endmacro %}
