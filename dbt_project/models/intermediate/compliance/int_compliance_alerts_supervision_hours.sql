{#- One row per supervisee short of the required supervision hours in the last complete month, with or without a
    supervisor (one with none is the administrator's to resolve). Read from int_supervision_hours_by_period, the
    rows the Supervision Hours Logged measure counts; each month's shortfall is its own alert. -#}
with

hours as (
    select * from {{ ref('int_supervision_hours_by_period') }}
    where period_grain = 'month'
        and period_start = cast({{ month_start(as_of_date()) }} - interval '1 month' as date)
        and logged_hours < required_hours
),

final as (
    select
        'supervision_hours_below_requirement:user_month:' || cast(clinician_id as varchar) || ':'
        || cast(period_start as varchar) as alert_key,
        'GEORGIA_RULE' as rule_source,
        'SUPERVISION_HOURS_BELOW_REQUIREMENT' as alert_type,
        'WARNING' as severity,
        clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        true as is_supervisor_escalated,
        true as is_admin_escalated,
        'user_month' as entity_type,
        clinician_id as entity_id,
        'Clinician #' || cast(clinician_id as varchar) || ' logged ' || cast(logged_hours as varchar)
        || ' of ' || cast(required_hours as varchar) || ' required supervision hours in '
        || cast(period_start as varchar) as message,
        case
            when supervisor_id is null
                then 'Assign a supervisor and schedule supervision: the clinician has none on record'
            else 'Schedule supervision to meet the licence requirement; the shortfall is reported to supervisor and administrator'
        end as action_required,
        period_start as due_date
    from hours
)

select * from final
