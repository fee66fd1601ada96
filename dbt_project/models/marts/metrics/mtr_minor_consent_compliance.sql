{#- Minor Consent Compliance = active minors with a current GUARDIAN consent / active minors, as of each
    period's end. Minor = under MINOR_CONSENT.adult_age_years on that date (from the exported 18th birthday);
    emancipated minors are excepted; an unknown date of birth counts as adult (and fails demographics).
    Current = signed by then, not revoked, before the earlier of its expiry date and signature +
    MINOR_CONSENT.validity_days. -#}
with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
),

consents as (
    select * from {{ ref('stg_operational__consents') }}
    where consent_type = 'GUARDIAN'
),

minors as (
    select *
    from active_clients
    where not is_emancipated
        and cast({{ dbt.dateadd(
            'year',
            'cast(' ~ rule_value('MINOR_CONSENT', 'adult_age_years') ~ ' as integer) - 18',
            'adult_on_date'
        ) }} as date) > as_of_date
),

consent_validity as (
    select
        client_id,
        signed_date,
        revoked_date,
        case
            when expiry_date is not null
                and expiry_date < signed_date + cast({{ rule_value('MINOR_CONSENT', 'validity_days') }} as integer)
                then expiry_date
            else cast(signed_date + cast({{ rule_value('MINOR_CONSENT', 'validity_days') }} as integer) as date)
        end as expires_date
    from consents
),

covered as (
    select
        minors.period_grain,
        minors.period_start,
        minors.client_id
    from minors
    inner join consent_validity
        on minors.client_id = consent_validity.client_id
        and consent_validity.signed_date <= minors.as_of_date
        and consent_validity.expires_date > minors.as_of_date
        and (consent_validity.revoked_date is null or consent_validity.revoked_date > minors.as_of_date)
    group by 1, 2, 3
),

metric_parts as (
    select
        minors.period_grain,
        minors.period_start,
        minors.clinician_id,
        case when covered.client_id is not null then 1 else 0 end as numerator_part,
        1 as denominator_part
    from minors
    left join covered
        on minors.period_grain = covered.period_grain
        and minors.period_start = covered.period_start
        and minors.client_id = covered.client_id
),

{{ metric_rollup('minor_consent_compliance', 'metric_parts') }}
