{#- Every mtr_* model, stacked, in metric-dictionary order. Add a metric by adding its model here and to the
    dictionary seed. -#}
{%- set metric_models = [
    'mtr_kept_visit_rate',
    'mtr_no_show_rate',
    'mtr_cancellation_rate',
    'mtr_rebook_rate',
    'mtr_sessions_per_day',
    'mtr_same_day_documentation_rate',
    'mtr_average_documentation_time',
    'mtr_treatment_plan_currency',
    'mtr_unsigned_note_backlog',
    'mtr_client_retention_90_day',
    'mtr_crisis_intervention_rate',
    'mtr_safety_plan_compliance',
    'mtr_charge_entry_lag',
    'mtr_billing_compliance_rate',
    'mtr_claim_acceptance_rate',
    'mtr_average_reimbursement_per_session',
    'mtr_schedule_fill_rate',
    'mtr_prime_time_utilization',
    'mtr_average_appointment_lead_time',
    'mtr_supervision_hours_logged',
    'mtr_supervision_note_timeliness',
    'mtr_portal_adoption_rate',
    'mtr_online_booking_rate',
    'mtr_front_desk_check_in_time',
    'mtr_insurance_verification_rate',
    'mtr_insured_session_verification_rate',
    'mtr_interdisciplinary_collaboration_rate',
    'mtr_informed_consent_currency',
    'mtr_minor_consent_compliance',
    'mtr_telehealth_consent_compliance',
    'mtr_complete_demographics_rate',
    'mtr_active_client_demographics_rate',
    'mtr_insurance_information_accuracy',
    'mtr_hipaa_training_current',
    'mtr_breach_incident_response_time',
    'mtr_days_in_ar',
    'mtr_collection_rate',
    'mtr_net_collection_rate',
] -%}
with

{% for m in metric_models %}
    {{ m }} as (select * from {{ ref(m) }}),
{% endfor %}

unioned as (
    {% for m in metric_models %}
        select * from {{ m }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from unioned
