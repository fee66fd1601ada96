with

source as (
    select * from {{ source('operational', 'compliance_alerts') }}
),

renamed as (
    select
        id as compliance_alert_id,
        target_user_id,
        supervisor_id,
        admin_id,
        entity_id,
        acknowledged_by as acknowledged_by_user_id,
        resolved_by as resolved_by_user_id,
        alert_key,
        upper(trim(alert_type)) as alert_type,
        upper(trim(severity)) as severity,
        upper(trim(entity_type)) as entity_type,
        upper(trim(status)) as alert_status,
        message as alert_message,
        action_required,
        due_at,
        acknowledged_at,
        resolved_at,
        created_at,
        updated_at
    from source
)

select * from renamed
