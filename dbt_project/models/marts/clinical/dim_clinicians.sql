with

users as (
    select * from {{ ref('stg_operational__users') }}
),

final as (
    select
        user_id as clinician_id,
        supervisor_id,
        full_name as clinician_name,
        role,
        license_type,
        weekly_session_target,
        is_active,
        hired_date
    from users
    where role in ('CLINICIAN', 'SUPERVISOR')
)

select * from final
