{#- Every mtr_* model, stacked. Add a metric by adding its model here and to the dictionary seed. -#}
{%- set metric_models = ['mtr_kept_visit_rate'] -%}
with

{% for m in metric_models %}
{{ m }} as (select * from {{ ref(m) }}),
{% endfor %}

unioned as (
    {% for m in metric_models %}
    select * from {{ m }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select * from unioned
)

select * from final
