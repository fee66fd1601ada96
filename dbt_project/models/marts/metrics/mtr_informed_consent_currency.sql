{#- Informed Consent Currency = active clients with a current INFORMED consent / active clients, as of each
    period's end. Who needs the consent and what "current" means live in int_client_consents_by_period (the
    consent alerts read the same rows). -#}
with

consent_status as (
    select * from {{ ref('int_client_consents_by_period') }}
    where consent_type = 'INFORMED' and {{ metric_window_from('period_start') }}
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

{{ metric_rollup('informed_consent_currency', 'metric_parts') }}
