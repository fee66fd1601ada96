{#- Telehealth Consent Compliance = active telehealth clients with a current TELEHEALTH consent / active
    telehealth clients, as of each period's end. Telehealth client = an active client with a completed telehealth
    session on or before that date. Population and currency: int_client_consents_by_period. -#}
with

consent_status as (
    select * from {{ ref('int_client_consents_by_period') }}
    where consent_type = 'TELEHEALTH' and {{ metric_window_from('period_start') }}
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

{{ metric_rollup('telehealth_consent_compliance', 'metric_parts') }}
