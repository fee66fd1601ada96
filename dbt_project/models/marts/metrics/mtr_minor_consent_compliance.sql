{#- Minor Consent Compliance = active minors with a current GUARDIAN consent / active minors, as of each
    period's end, emancipated minors excepted. Who is a minor on that date (at their latest completed visit), the
    population and currency: int_client_consents_by_period. -#}
with

consent_status as (
    select * from {{ ref('int_client_consents_by_period') }}
    where consent_type = 'GUARDIAN' and {{ metric_window_from('period_start') }}
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
