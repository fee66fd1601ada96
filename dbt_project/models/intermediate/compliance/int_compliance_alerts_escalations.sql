{#- One row per open escalation (PRD "Alerts & Nudges"): to a clinician's supervisor, or to the
    administrator for practice-wide trends. Trends come from fct_practice_metrics, so the warehouse
    and the dashboards agree on every figure. -#}
with

metrics as (select * from {{ ref('fct_practice_metrics') }}),

unsigned_notes as (select * from {{ ref('int_unsigned_notes_aged') }}),

georgia as (select * from {{ ref('int_compliance_alerts_georgia') }}),

billing_summary as (select * from {{ ref('fct_billing_monthly_summary') }}),

params as (
    select
        {{ rule_value('NOTE_SIGNATURE', 'supervisor_backlog_count') }} as backlog_count,
        {{ as_of_date() }} as as_of_date,
        cast({{ week_start(as_of_date()) }} - interval '7 day' as date) as last_week,
        cast({{ week_start(as_of_date()) }} - interval '14 day' as date) as week_before,
        cast({{ month_start(as_of_date()) }} - interval '1 month' as date) as last_month,
        cast({{ month_start(as_of_date()) }} - interval '2 month' as date) as month_before
),

backlogs as (
    select
        clinician_id,
        count(*) as unsigned_count
    from unsigned_notes
    group by clinician_id
),

backlog_alerts as (
    select
        'UNSIGNED_NOTE_BACKLOG' as alert_type,
        'WARNING' as severity,
        b.clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        true as is_supervisor_escalated,
        false as is_admin_escalated,
        'user' as entity_type,
        b.clinician_id as entity_id,
        'Clinician #' || cast(b.clinician_id as varchar) || ' has ' || cast(b.unsigned_count as varchar) || ' unsigned notes' as message,
        'Supervisor: review the documentation backlog with the clinician this week' as action_required,
        p.as_of_date as due_date
    from backlogs as b
    cross join params as p
    where b.unsigned_count > p.backlog_count
),

-- Only the periods and measures the escalations read: referenced twice, this CTE is materialized, and the whole
-- clinician-week history of every measure is millions of rows for a large group.
weekly as (
    select m.*
    from metrics as m
    cross join params as p
    where m.scope = 'clinician' and m.period_grain = 'week'
        and m.metric_key in ('kept_visit_rate', 'no_show_rate')
        and m.period_start in (p.last_week, p.week_before)
),

kvr_two_weeks as (
    select
        'KVR_BELOW_70_TWO_WEEKS' as alert_type,
        'WARNING' as severity,
        last_wk.clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        true as is_supervisor_escalated,
        false as is_admin_escalated,
        'user' as entity_type,
        last_wk.clinician_id as entity_id,
        'Kept Visit Rate of clinician #' || cast(last_wk.clinician_id as varchar) || ' was '
        || cast(round(before_wk.metric_value, 1) as varchar) || '% and ' || cast(round(last_wk.metric_value, 1) as varchar)
        || '% in the last two weeks (below 70%)' as message,
        'Supervisor: review scheduling and client engagement with the clinician' as action_required,
        p.last_week as due_date
    from weekly as last_wk
    cross join params as p
    inner join weekly as before_wk
        on last_wk.clinician_id = before_wk.clinician_id
        and before_wk.metric_key = 'kept_visit_rate'
        and before_wk.period_start = p.week_before
    where last_wk.metric_key = 'kept_visit_rate'
        and last_wk.period_start = p.last_week
        and last_wk.metric_value < 70
        and before_wk.metric_value < 70
),

no_show_alerts as (
    select
        'NO_SHOW_RATE_ABOVE_20' as alert_type,
        'WARNING' as severity,
        w.clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        true as is_supervisor_escalated,
        false as is_admin_escalated,
        'user' as entity_type,
        w.clinician_id as entity_id,
        'No-show rate of clinician #' || cast(w.clinician_id as varchar) || ' was '
        || cast(round(w.metric_value, 1) as varchar) || '% last week' as message,
        'Supervisor: review client outreach and reminders with the clinician' as action_required,
        p.last_week as due_date
    from weekly as w
    cross join params as p
    where w.metric_key = 'no_show_rate' and w.period_start = p.last_week and w.metric_value > 20
),

practice_monthly as (
    select m.*
    from metrics as m
    cross join params as p
    where m.scope = 'practice' and m.period_grain = 'month'
        and m.metric_key in ('kept_visit_rate', 'days_in_ar')
        and m.period_start = p.last_month
),

practice_kvr_drop as (
    select
        'PRACTICE_KVR_DOWN_MONTH_OVER_MONTH' as alert_type,
        'WARNING' as severity,
        cast(null as bigint) as target_user_id,
        'ADMIN' as target_role,
        false as is_supervisor_escalated,
        true as is_admin_escalated,
        'practice' as entity_type,
        cast(0 as bigint) as entity_id,
        'Practice Kept Visit Rate fell ' || cast(round(-m.change_from_previous, 1) as varchar)
        || ' points to ' || cast(round(m.metric_value, 1) as varchar) || '% last month' as message,
        'Administrator: review capacity, no-shows and cancellations across the practice' as action_required,
        p.last_month as due_date
    from practice_monthly as m
    cross join params as p
    -- "Down more than 5%" is read as percentage points, the way the dashboards show the change.
    where m.metric_key = 'kept_visit_rate' and m.period_start = p.last_month and m.change_from_previous < -5
),

-- Revenue and target as the Practice Overview shows them (fct_billing_monthly_summary), so the page's
-- red and this escalation cannot disagree. A month missing from the mart had no revenue at all.
monthly_revenue as (
    select
        month_start,
        revenue_amount as revenue,
        monthly_revenue_target
    from billing_summary
    where scope = 'practice'
),

revenue_target as (
    select max(monthly_revenue_target) as monthly_target
    from monthly_revenue
),

revenue_alerts as (
    select
        'REVENUE_BELOW_TARGET_TWO_MONTHS' as alert_type,
        'WARNING' as severity,
        cast(null as bigint) as target_user_id,
        'ADMIN' as target_role,
        false as is_supervisor_escalated,
        true as is_admin_escalated,
        'practice' as entity_type,
        cast(0 as bigint) as entity_id,
        'Revenue was under {{ var("revenue_target_alert_pct") }}% of the monthly target (' || cast(t.monthly_target as varchar)
        || ') two months running' as message,
        'Administrator: review payer mix, collections and capacity' as action_required,
        p.last_month as due_date
    from params as p
    cross join revenue_target as t
    left join monthly_revenue as last_m on last_m.month_start = p.last_month
    left join monthly_revenue as before_m on before_m.month_start = p.month_before
    where t.monthly_target > 0
        and coalesce(last_m.revenue, 0) < {{ var('revenue_target_alert_pct') }} / 100.0 * t.monthly_target
        and coalesce(before_m.revenue, 0) < {{ var('revenue_target_alert_pct') }} / 100.0 * t.monthly_target
),

days_in_ar_alerts as (
    select
        'DAYS_IN_AR_OVER_45' as alert_type,
        'WARNING' as severity,
        cast(null as bigint) as target_user_id,
        'ADMIN' as target_role,
        false as is_supervisor_escalated,
        true as is_admin_escalated,
        'practice' as entity_type,
        cast(0 as bigint) as entity_id,
        'Days in accounts receivable reached ' || cast(round(m.metric_value, 1) as varchar) || ' last month' as message,
        'Administrator: review collections and the AR aging report' as action_required,
        p.last_month as due_date
    from practice_monthly as m
    cross join params as p
    where m.metric_key = 'days_in_ar' and m.period_start = p.last_month and m.metric_value > 45
),

violating_clinicians as (
    select count(distinct target_user_id) as clinician_count
    from georgia
    where severity = 'CRITICAL' and entity_type <> 'user'
),

multi_clinician_alerts as (
    select
        'COMPLIANCE_VIOLATIONS_MULTIPLE_CLINICIANS' as alert_type,
        'CRITICAL' as severity,
        cast(null as bigint) as target_user_id,
        'ADMIN' as target_role,
        false as is_supervisor_escalated,
        true as is_admin_escalated,
        'practice' as entity_type,
        cast(0 as bigint) as entity_id,
        cast(v.clinician_count as varchar) || ' clinicians have critical compliance violations open' as message,
        'Administrator: review the Georgia compliance panel with the supervisors' as action_required,
        p.as_of_date as due_date
    from violating_clinicians as v
    cross join params as p
    where v.clinician_count > 2
),

unioned as (
    select * from backlog_alerts
    union all
    select * from kvr_two_weeks
    union all
    select * from no_show_alerts
    union all
    select * from practice_kvr_drop
    union all
    select * from revenue_alerts
    union all
    select * from days_in_ar_alerts
    union all
    select * from multi_clinician_alerts
),

final as (
    select
        -- Trend escalations are keyed by the period they describe, so next period's is a new alert.
        lower(alert_type) || ':' || entity_type || ':' || cast(entity_id as varchar)
        || case when alert_type in ('UNSIGNED_NOTE_BACKLOG', 'COMPLIANCE_VIOLATIONS_MULTIPLE_CLINICIANS') then ''
            else ':' || cast(due_date as varchar)
        end as alert_key,
        'ESCALATION' as rule_source,
        *
    from unioned
)

select * from final
