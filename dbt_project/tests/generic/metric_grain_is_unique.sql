{#- One row per metric, scope, clinician, grain and period start: a duplicated row would double a figure on
    the dashboards. -#}
{% test metric_grain_is_unique(model) %}
select
    metric_key,
    scope,
    clinician_id,
    period_grain,
    period_start,
    count(*) as row_count
from {{ model }}
group by 1, 2, 3, 4, 5
having count(*) > 1
{% endtest %}
