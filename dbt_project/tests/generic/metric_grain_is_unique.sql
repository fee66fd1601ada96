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

{#- A practice row has no clinician and a clinician row has one. -#}
{% test metric_scope_matches_clinician(model) %}
select *
from {{ model }}
where (scope = 'practice' and clinician_id is not null)
    or (scope = 'clinician' and clinician_id is null)
{% endtest %}
