{#- Minor Consent Compliance = active minors with a current GUARDIAN consent / active minors, as of each
    period's end. Minor = under MINOR_CONSENT.adult_age_years on that date, emancipated minors excepted; an unknown
    date of birth counts as adult (and fails demographics). Population and currency: int_client_consents_by_period. -#}
with

consent_status as (
    select * from {{ ref('int_client_consents_by_period') }}
    where consent_type = 'GUARDIAN'
),

metric_parts as (
    select
        period_grain,
        period_start,
        clinician_id,
        case when has_current_consent then 1 else 0 end as numerator_part,
        1 as denominator_part
    from consent_status
),

{{ metric_rollup('minor_consent_compliance', 'metric_parts') }}
