{#- One row per active client whose treatment plan is missing, out of compliance (more than the review interval since
    its last review: not current for the Treatment Plan Currency measure), due for review today (the alert day) or
    approaching it (from the reminder day). Read from int_client_treatment_plans_by_period, the rows the measure
    counts, so missing + out-of-compliance names exactly the clients the measure counts as not current today. -#}
with

plan_status as (
    select * from {{ ref('int_client_treatment_plans_by_period') }}
    where period_grain = 'month' and is_current_period
),

params as (
    select
        {{ rule_value('TREATMENT_PLAN_REVIEW', 'reminder_day') }} as reminder_day,
        {{ rule_value('TREATMENT_PLAN_REVIEW', 'alert_day') }} as alert_day
),

staged as (
    select
        s.*,
        case
            when not s.has_plan_in_force then 'TREATMENT_PLAN_MISSING'
            when not s.has_current_plan then 'TREATMENT_PLAN_OUT_OF_COMPLIANCE'
            when s.days_since_review >= p.alert_day then 'TREATMENT_PLAN_REVIEW_DUE'
            else 'TREATMENT_PLAN_REVIEW_REMINDER'
        end as alert_type,
        p.alert_day
    from plan_status as s
    cross join params as p
    where not s.has_current_plan or s.days_since_review >= p.reminder_day
),

final as (
    select
        lower(alert_type) || ':client:' || cast(client_id as varchar) as alert_key,
        'GEORGIA_RULE' as rule_source,
        alert_type,
        case
            when alert_type in ('TREATMENT_PLAN_MISSING', 'TREATMENT_PLAN_OUT_OF_COMPLIANCE') then 'CRITICAL'
            when alert_type = 'TREATMENT_PLAN_REVIEW_DUE' then 'WARNING'
            else 'INFO'
        end as severity,
        clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        alert_type <> 'TREATMENT_PLAN_REVIEW_REMINDER' as is_supervisor_escalated,
        false as is_admin_escalated,
        'client' as entity_type,
        client_id as entity_id,
        case
            when alert_type = 'TREATMENT_PLAN_MISSING'
                then 'Active client #' || cast(client_id as varchar) || ' has no treatment plan'
            else 'Treatment plan #' || cast(treatment_plan_id as varchar) || ' (client #' || cast(client_id as varchar)
                || ') was last reviewed ' || cast(days_since_review as varchar) || ' days ago'
        end as message,
        case
            when alert_type = 'TREATMENT_PLAN_MISSING'
                then 'Write a treatment plan: Georgia requires one for every active client'
            else 'Review the treatment plan: Georgia requires a review every 90 days'
        end as action_required,
        coalesce(cast(last_review_date + cast(alert_day as integer) as date), as_of_date) as due_date
    from staged
)

select * from final
