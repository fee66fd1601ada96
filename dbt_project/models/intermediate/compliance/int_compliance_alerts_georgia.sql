{#- Every open Georgia-rule condition: the union of one model per rule family, each reading the same concept model
    as the measure it belongs to (see _compliance__models.yml for each family's grain). -#}
{% set families = [
    'int_compliance_alerts_note_signature',
    'int_compliance_alerts_treatment_plans',
    'int_compliance_alerts_consents',
    'int_compliance_alerts_safety_plans',
    'int_compliance_alerts_hipaa_training',
    'int_compliance_alerts_supervision_hours',
] %}

{% for family in families %}
    select
        alert_key,
        rule_source,
        alert_type,
        severity,
        target_user_id,
        target_role,
        is_supervisor_escalated,
        is_admin_escalated,
        entity_type,
        entity_id,
        message,
        action_required,
        due_date
    from {{ ref(family) }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
