{#- A key column: present on every row and never repeated. One scan instead of dbt's `unique` plus
    `not_null` pair, which halves the test nodes (and Dagster check events) on every build. -#}
{% test primary_key(model, column_name) %}
select
    {{ column_name }} as key_value,
    count(*) as row_count
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{% endtest %}
