{#- One row per metric that crossed its alert threshold (metric dictionary), per clinician and for the
    practice, judged on the period the dictionary's alert_grain names (the last complete week for a weekly
    review, else the last complete month), or, when alert_lag_days says recent periods are still filling in,
    on the latest such period that ended at least that many days ago. Thresholds come from the seed. -#}
with

metrics as (select * from {{ ref('fct_practice_metrics') }}),

dictionary as (select * from {{ ref('metric_dictionary') }}),

judged_periods as (
    select
        d.metric_key,
        d.alert_grain,
        case
            when d.alert_grain = 'week'
                then cast({{ week_start(as_of_date() ~ ' - cast(d.alert_lag_days as integer)') }} - interval '7 day' as date)
            else cast({{ month_start(as_of_date() ~ ' - cast(d.alert_lag_days as integer)') }} - interval '1 month' as date)
        end as judged_start
    from dictionary as d
),

judged_values as (
    select
        m.*,
        jp.alert_grain
    from metrics as m
    inner join judged_periods as jp
        on m.metric_key = jp.metric_key
        and m.period_grain = jp.alert_grain
        and m.period_start = jp.judged_start
    where m.denominator > 0 and m.metric_value is not null
),

-- deviation_pct measures (average reimbursement) have no fixed benchmark: each scope is held to its own six months
-- before the judged period (fct_practice_metrics.deviation_benchmark, the same figure the dashboards colour against).
judged as (
    select
        v.*,
        100.0 * (v.metric_value - v.deviation_benchmark) / nullif(v.deviation_benchmark, 0) as deviation_pct,
        v.deviation_benchmark as benchmark
    from judged_values as v
),

crossed as (
    select
        v.metric_key,
        v.scope,
        v.clinician_id,
        v.metric_value,
        v.period_start,
        v.alert_grain,
        d.label,
        d.unit,
        d.alert_action,
        case
            when d.alert_operator = '<' and v.metric_value < d.alert_threshold then 'below ' || cast(d.alert_threshold as varchar)
            when d.alert_operator = '>' and v.metric_value > d.alert_threshold then 'above ' || cast(d.alert_threshold as varchar)
            when d.alert_operator = 'deviation_pct' and abs(v.deviation_pct) > d.alert_threshold
                then cast(round(abs(v.deviation_pct), 1) as varchar) || '% '
                    || case when v.deviation_pct < 0 then 'below' else 'above' end
                    || ' the benchmark of ' || cast(round(v.benchmark, 2) as varchar) || ', more than '
                    || cast(d.alert_threshold as varchar) || '%'
            when d.alert_low is not null and v.metric_value < d.alert_low then 'below ' || cast(d.alert_low as varchar)
            when d.alert_high is not null and v.metric_value > d.alert_high then 'above ' || cast(d.alert_high as varchar)
        end as crossing
    from judged as v
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
        -- fct_compliance_alerts sends it to the administrator when the clinician has no supervisor.
        c.scope = 'clinician' as is_supervisor_escalated,
        c.scope = 'practice' as is_admin_escalated,
        case when c.scope = 'practice' then 'practice' else 'user' end as entity_type,
        coalesce(c.clinician_id, 0) as entity_id,
        c.label || ' was ' || cast(round(c.metric_value, 1) as varchar) || ' ' || c.unit
        || case when c.alert_grain = 'week' then ' in the week of ' else ' in ' end
        || cast(c.period_start as varchar) || ' (' || c.crossing || ')'
        || case when c.scope = 'clinician' then ' for clinician #' || cast(c.clinician_id as varchar) else ' for the practice' end
            as message,
        coalesce(c.alert_action, 'Review') as action_required,
        c.period_start as due_date
    from crossed as c
    where c.crossing is not null
)

select * from final
