with

source as (
    select * from {{ source('operational', 'users') }}
),

renamed as (
    select
        id as user_id,
        supervisor_id,
        email,
        first_name || ' ' || last_name as full_name,
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
