{#- The dashboard's revenue-cycle figures per month, per clinician and for the practice (clinician_id null):
    sessions billed of sessions completed (by session month), claims denied of claims adjudicated (by
    adjudication month), revenue (payments applied, by payment month) and charges outstanding at month end.
    Practice rows also carry the monthly revenue target, so the dashboards and the administrator escalation
    (int_compliance_alerts_escalations) compare the same revenue with the same target. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
),

charges as (
    select * from {{ ref('fct_charges') }}
),

claims as (
    select * from {{ ref('fct_claims') }}
),

revenue as (
    select * from {{ ref('fct_revenue') }}
),

aging as (
    select * from {{ ref('fct_ar_aging') }}
),

settings as (
    select * from {{ ref('stg_operational__practice_settings') }}
),

revenue_target as (
    -- The store keeps one current target, not a history of them, so every month is held to today's.
    -- A missing or zero target means the practice has not set one: no target, rather than 0.
    select case when target > 0 then target end as monthly_revenue_target
    from (
        select cast(max(setting_value) as numeric(14, 2)) as target
        from settings
        where setting_key = 'monthly_revenue_target'
    ) as configured
),

billed_appointments as (
    select appointment_id
    from charges
    where not is_void and appointment_id is not null
    group by 1
),

sessions as (
    select
        appointments.appointment_month_start as month_start,
        appointments.clinician_id,
        count(*) as sessions_completed,
        count(billed_appointments.appointment_id) as sessions_billed
    from appointments
    left join billed_appointments on appointments.appointment_id = billed_appointments.appointment_id
    where appointments.is_kept
    group by 1, 2
),

claim_outcomes as (
    select
        {{ month_start('adjudicated_date') }} as month_start,
        clinician_id,
        count(*) as claims_adjudicated,
        sum(case when is_denied then 1 else 0 end) as claims_denied
    from claims
    where is_adjudicated and adjudicated_date is not null
    group by 1, 2
),

revenue_by_month as (
    select
        revenue_month_start as month_start,
        clinician_id,
        sum(revenue_amount) as revenue_amount
    from revenue
    group by 1, 2
),

outstanding as (
    select
        month_start,
        clinician_id,
        sum(outstanding_amount) as outstanding_amount
    from aging
    group by 1, 2
),

keys as (
    select
        month_start,
        clinician_id
    from sessions
    union
    select
        month_start,
        clinician_id
    from claim_outcomes
    union
    select
        month_start,
        clinician_id
    from revenue_by_month
    union
    select
        month_start,
        clinician_id
    from outstanding
),

per_clinician as (
    select
        keys.month_start,
        keys.clinician_id,
        coalesce(sessions.sessions_completed, 0) as sessions_completed,
        coalesce(sessions.sessions_billed, 0) as sessions_billed,
        coalesce(claim_outcomes.claims_adjudicated, 0) as claims_adjudicated,
        coalesce(claim_outcomes.claims_denied, 0) as claims_denied,
        coalesce(revenue_by_month.revenue_amount, 0) as revenue_amount,
        coalesce(outstanding.outstanding_amount, 0) as outstanding_amount
    from keys
    left join sessions on keys.month_start = sessions.month_start and keys.clinician_id = sessions.clinician_id
    left join claim_outcomes
        on keys.month_start = claim_outcomes.month_start and keys.clinician_id = claim_outcomes.clinician_id
    left join revenue_by_month
        on keys.month_start = revenue_by_month.month_start and keys.clinician_id = revenue_by_month.clinician_id
    left join outstanding on keys.month_start = outstanding.month_start and keys.clinician_id = outstanding.clinician_id
    where keys.clinician_id is not null
),

per_practice as (
    select
        month_start,
        cast(null as bigint) as clinician_id,
        sum(sessions_completed) as sessions_completed,
        sum(sessions_billed) as sessions_billed,
        sum(claims_adjudicated) as claims_adjudicated,
        sum(claims_denied) as claims_denied,
        sum(revenue_amount) as revenue_amount,
        sum(outstanding_amount) as outstanding_amount
    from per_clinician
    group by 1
),

combined as (
    -- The target is the practice's: clinicians have none of their own.
    select
        'clinician' as scope,
        *,
        cast(null as numeric(14, 2)) as monthly_revenue_target
    from per_clinician
    union all
    select
        'practice' as scope,
        per_practice.*,
        revenue_target.monthly_revenue_target
    from per_practice
    cross join revenue_target
),

final as (
    select
        clinician_id,
        scope,
        sessions_completed,
        sessions_billed,
        {{ safe_pct('sessions_billed', 'sessions_completed') }} as sessions_billed_pct,
        claims_adjudicated,
        claims_denied,
        {{ safe_pct('claims_denied', 'claims_adjudicated') }} as claim_denial_rate_pct,
        revenue_amount,
        monthly_revenue_target,
        {{ safe_pct('revenue_amount', 'monthly_revenue_target') }} as revenue_target_pct,
        outstanding_amount,
        month_start
    from combined
)

select * from final
