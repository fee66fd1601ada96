{#- One row per consent with the span it is current: from its signature to the earliest of its stored expiry, its
    type's validity rule (signature + validity_days; INFORMED_CONSENT for informed, MINOR_CONSENT for guardian; the
    telehealth consent has no validity rule) and its revocation. `current_until_date` is exclusive (a consent is
    expired on its expiry date); null = open-ended. The one definition of "current consent" for measures and alerts. -#}
with

consents as (
    select * from {{ ref('stg_operational__consents') }}
),

validity_rules as (
    select
        {{ rule_value('INFORMED_CONSENT', 'validity_days') }} as informed_days,
        {{ rule_value('MINOR_CONSENT', 'validity_days') }} as guardian_days
),

rule_end as (
    select
        consents.consent_id,
        consents.client_id,
        consents.consent_type,
        consents.signed_date,
        consents.expiry_date,
        consents.revoked_date,
        case consents.consent_type
            when 'INFORMED' then cast(consents.signed_date + cast(validity_rules.informed_days as integer) as date)
            when 'GUARDIAN' then cast(consents.signed_date + cast(validity_rules.guardian_days as integer) as date)
        end as rule_expiry_date
    from consents
    cross join validity_rules
),

expiry as (
    select
        *,
        case
            when expiry_date is null then rule_expiry_date
            when rule_expiry_date is null or expiry_date < rule_expiry_date then expiry_date
            else rule_expiry_date
        end as expires_date
    from rule_end
),

final as (
    select
        consent_id,
        client_id,
        consent_type,
        signed_date,
        expires_date,
        revoked_date,
        case
            when revoked_date is null then expires_date
            when expires_date is null or revoked_date < expires_date then revoked_date
            else expires_date
        end as current_until_date
    from expiry
)

select * from final
