{#- Insurance Verification Rate = completed sessions of insured clients with a VERIFIED eligibility check
    done before the session start and not expired at it / completed sessions of insured clients (a policy in
    effect on the session date, client not self-pay), by session date. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
    where is_kept
),

clients as (
    select * from {{ ref('dim_clients') }}
),

policies as (
    select * from {{ ref('stg_operational__insurance_policies') }}
),

verifications as (
    select * from {{ ref('stg_operational__insurance_verifications') }}
    where verification_status = 'VERIFIED'
),

insured_sessions as (
    select
        appointments.appointment_id,
        appointments.client_id,
        appointments.clinician_id,
        appointments.appointment_date,
        appointments.start_at
    from appointments
    inner join clients on appointments.client_id = clients.client_id
    where not clients.is_self_pay
        and exists (
            select 1
            from policies
            where policies.client_id = appointments.client_id
                and policies.effective_date <= appointments.appointment_date
                and (policies.termination_date is null or policies.termination_date >= appointments.appointment_date)
        )
),

timeline as (
    -- Sessions and verifications of a client in time order; a verification at the same instant comes first.
    select
        client_id,
        cast(null as bigint) as appointment_id,
        verified_at as event_at,
        0 as event_order,
        coalesce(expires_at, cast('9999-12-31' as timestamp)) as valid_until
    from verifications
    union all
    select
        client_id,
        appointment_id,
        start_at as event_at,
        1 as event_order,
        cast(null as timestamp) as valid_until
    from insured_sessions
),

coverage as (
    select
        appointment_id,
        event_at,
        max(valid_until) over (
            partition by client_id order by event_at, event_order
            rows between unbounded preceding and current row
        ) as latest_valid_until
    from timeline
),

metric_events as (
    select
        insured_sessions.appointment_id,
        insured_sessions.clinician_id,
        insured_sessions.appointment_date,
        case when coverage.latest_valid_until >= insured_sessions.start_at then 1 else 0 end as is_verified
    from insured_sessions
    inner join coverage on insured_sessions.appointment_id = coverage.appointment_id
),

{{ metric_from_events('insurance_verification_rate', 'metric_events', 'appointment_date', 'is_verified', '1') }}
