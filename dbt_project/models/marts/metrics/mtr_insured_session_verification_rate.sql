{#- Insured Session Verification Rate (variant of the PRD's Insurance Verification Rate) = completed sessions of
    insured clients with a VERIFIED eligibility check valid at the session start / completed sessions of insured
    clients (a policy in effect on the session date, client not self-pay), by session date. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
    where is_kept and {{ metric_window_from('appointment_date') }}
),

{{ appointments_insurance_verified('appointments') }},

insured_sessions as (
    select * from appointments_insurance_verified
    where not is_self_pay and has_policy_in_effect
),

{{ metric_from_events(
    'insured_session_verification_rate', 'insured_sessions', 'appointment_date',
    'case when has_valid_verification then 1 else 0 end', '1'
) }}
