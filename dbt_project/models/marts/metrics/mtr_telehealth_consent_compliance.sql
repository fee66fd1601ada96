{#- Telehealth Consent Compliance = active telehealth clients with a TELEHEALTH consent on file (signed by
    then, not revoked, not expired) / active telehealth clients, as of each period's end. Telehealth client =
    an active client with at least one completed telehealth session on or before that date. -#}
with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
),

appointments as (
    select * from {{ ref('fct_appointments') }}
),

consents as (
    select * from {{ ref('stg_operational__consents') }}
    where consent_type = 'TELEHEALTH'
),

first_telehealth as (
    select
        client_id,
        min(appointment_date) as first_telehealth_date
    from appointments
    where is_kept and is_telehealth
    group by 1
),

telehealth_clients as (
    select active_clients.*
    from active_clients
    inner join first_telehealth
        on active_clients.client_id = first_telehealth.client_id
        and first_telehealth.first_telehealth_date <= active_clients.as_of_date
),

covered as (
    select
        telehealth_clients.period_grain,
        telehealth_clients.period_start,
        telehealth_clients.client_id
    from telehealth_clients
    inner join consents
        on telehealth_clients.client_id = consents.client_id
        and consents.signed_date <= telehealth_clients.as_of_date
        and (consents.expiry_date is null or consents.expiry_date > telehealth_clients.as_of_date)
        and (consents.revoked_date is null or consents.revoked_date > telehealth_clients.as_of_date)
    group by 1, 2, 3
),

metric_parts as (
    select
        telehealth_clients.period_grain,
        telehealth_clients.period_start,
        telehealth_clients.clinician_id,
        case when covered.client_id is not null then 1 else 0 end as numerator_part,
        1 as denominator_part
    from telehealth_clients
    left join covered
        on telehealth_clients.period_grain = covered.period_grain
        and telehealth_clients.period_start = covered.period_start
        and telehealth_clients.client_id = covered.client_id
),

{{ metric_rollup('telehealth_consent_compliance', 'metric_parts') }}
