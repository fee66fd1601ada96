{#- Informed Consent Currency = active clients with a current INFORMED consent / active clients, as of each
    period's end. Current = signed by then, not revoked, and before its expiry: the earlier of the stored
    expiry date and signature + INFORMED_CONSENT.validity_days (expired on the expiry date itself). -#}
with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
),

consents as (
    select * from {{ ref('stg_operational__consents') }}
    where consent_type = 'INFORMED'
),

consent_validity as (
    select
        client_id,
        signed_date,
        revoked_date,
        case
            when expiry_date is not null
                and expiry_date < signed_date + cast({{ rule_value('INFORMED_CONSENT', 'validity_days') }} as integer)
                then expiry_date
            else cast(signed_date + cast({{ rule_value('INFORMED_CONSENT', 'validity_days') }} as integer) as date)
        end as expires_date
    from consents
),

covered as (
    select
        active_clients.period_grain,
        active_clients.period_start,
        active_clients.client_id
    from active_clients
    inner join consent_validity
        on active_clients.client_id = consent_validity.client_id
        and consent_validity.signed_date <= active_clients.as_of_date
        and consent_validity.expires_date > active_clients.as_of_date
        and (consent_validity.revoked_date is null or consent_validity.revoked_date > active_clients.as_of_date)
    group by 1, 2, 3
),

metric_parts as (
    select
        active_clients.period_grain,
        active_clients.period_start,
        active_clients.clinician_id,
        case when covered.client_id is not null then 1 else 0 end as numerator_part,
        1 as denominator_part
    from active_clients
    left join covered
        on active_clients.period_grain = covered.period_grain
        and active_clients.period_start = covered.period_start
        and active_clients.client_id = covered.client_id
),

{{ metric_rollup('informed_consent_currency', 'metric_parts') }}
