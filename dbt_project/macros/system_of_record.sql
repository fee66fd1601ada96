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

{#- `column` is one of the codes a list var names (upper case, as staging keeps AdvancedMD's codes), e.g. the
    facility codes that mean telehealth. An empty list matches nothing. -#}
{% macro in_var_list(column, var_name) -%}
    {%- set values = var(var_name) -%}
    {%- if values | length == 0 -%}
        false
    {%- else -%}
        coalesce({{ column }} in (
            {%- for value in values -%}
                '{{ value | upper | replace("'", "''") }}'{{ ', ' if not loop.last }}
            {%- endfor -%}
        ), false)
    {%- endif -%}
{%- endmacro %}

{#- The appointment id of an AdvancedMD visit that no store appointment holds: the negative visit id, never a
    store id. One home for the rule: the appointments of record, AdvancedMD's charge lines and the notes that
    name an AdvancedMD visit (clinical_notes.advancedmd_visit_id) all use it, so they join. -#}
{% macro advancedmd_appointment_id(visit_id) -%}
    -{{ visit_id }}
{%- endmacro %}
