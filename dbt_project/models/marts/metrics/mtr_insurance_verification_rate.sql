{#- Insurance Verification Rate (PRD) = appointments with verified insurance / total appointments, by appointment
    date. Total appointments = the KVR denominator (COMPLETED, NO_SHOW or CANCELLED; not a rescheduled original,
    not one never closed out). Verified = a VERIFIED check valid at the start, or a self-pay client (data-quality
    rule 5); a client with neither is unverified. See the metric dictionary. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
    where is_final_status and {{ metric_window_from('appointment_date') }}
),

{{ appointments_insurance_verified('appointments') }},

{{ metric_from_events(
    'insurance_verification_rate', 'appointments_insurance_verified', 'appointment_date',
    'case when is_insurance_verified then 1 else 0 end', '1'
) }}
