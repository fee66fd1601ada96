{#- One row per metric that crossed its alert threshold (metric dictionary) in the last complete
    month, per clinician and for the practice. Thresholds come from the seed, never from SQL. -#}
with

metrics as (select * from {{ ref('fct_practice_metrics') }}),
dictionary as (select * from {{ ref('metric_dictionary') }}),
users as (select * from {{ ref('stg_operational__users') }}),

params as (
    select cast({{ month_start(as_of_date()) }} - interval '1 month' as date) as last_month
),

last_month_values as (
    select m.*
    from metrics as m
    cross join params as p
    where m.period_grain = 'month' and m.period_start = p.last_month and m.denominator > 0
        and m.metric_value is not null
),

crossed as (
    select
        v.metric_key,
        v.scope,
        v.clinician_id,
        v.metric_value,
        v.period_start,
        d.label,
        d.unit,
        d.alert_action,
        case
            when d.alert_operator = '<' and v.metric_value < d.alert_threshold then 'below ' || cast(d.alert_threshold as varchar)
            when d.alert_operator = '>' and v.metric_value > d.alert_threshold then 'above ' || cast(d.alert_threshold as varchar)
            when d.alert_low is not null and v.metric_value < d.alert_low then 'below ' || cast(d.alert_low as varchar)
            when d.alert_high is not null and v.metric_value > d.alert_high then 'above ' || cast(d.alert_high as varchar)
        end as crossing
    from last_month_values as v
    inner join dictionary as d on v.metric_key = d.metric_key
),

final as (
    select
        'metric_threshold:' || c.metric_key || ':' || c.scope || ':' || coalesce(cast(c.clinician_id as varchar), 'practice')
            || ':' || cast(c.period_start as varchar) as alert_key,
        'METRIC_THRESHOLD' as rule_source,
        'METRIC_THRESHOLD_' || upper(c.metric_key) as alert_type,
        'WARNING' as severity,
        c.clinician_id as target_user_id,
        case when c.scope = 'practice' then 'ADMIN' end as target_role,
        c.scope = 'clinician' and u.supervisor_id is not null as is_supervisor_escalated,
        c.scope = 'practice' as is_admin_escalated,
        case when c.scope = 'practice' then 'practice' else 'user' end as entity_type,
        coalesce(c.clinician_id, 0) as entity_id,
        c.label || ' was ' || cast(round(c.metric_value, 1) as varchar) || ' ' || c.unit || ' in '
            || cast(c.period_start as varchar) || ' (' || c.crossing || ')'
            || case when c.scope = 'clinician' then ' for clinician #' || cast(c.clinician_id as varchar) else ' for the practice' end
            as message,
        coalesce(c.alert_action, 'Review') as action_required,
        c.period_start as due_date
    from crossed as c
    left join users as u on c.clinician_id = u.user_id
    where c.crossing is not null
)

select * from final
