with

source as (
    select * from {{ source('operational', 'users') }}
),

renamed as (
    select
        id as user_id,
        supervisor_id,
        -- Staff names and e-mails identify employees, not clients; a portal client's (role CLIENT) are PHI
        -- and stay out of the warehouse.
        case when upper(trim(role)) <> 'CLIENT' then email end as email,
        case when upper(trim(role)) <> 'CLIENT' then first_name || ' ' || last_name end as full_name,
        upper(trim(role)) as role,
        upper(trim(license_type)) as license_type,
        weekly_session_target,
        is_active,
        hired_date,
        created_at,
        updated_at
    from source
)

select * from renamed
