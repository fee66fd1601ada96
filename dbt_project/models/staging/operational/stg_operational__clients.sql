with

source as (
    select * from {{ source('operational', 'clients') }}
),

renamed as (
    select
        id as client_id,
        primary_clinician_id,
        portal_user_id,
        -- Minimum necessary: first name + last initial only (see operational_api/export.py).
        display_name,
        upper(trim(status)) as client_status,
        is_high_risk,
        has_suicidal_ideation,
        is_emancipated,
        is_self_pay,
        portal_user_id is not null as has_portal_access,
        has_date_of_birth,
        has_phone,
        has_address,
        has_city,
        has_zip_code,
        has_emergency_contact,
        nullif(upper(trim(gender)), '') as gender,
        -- ZIP3 only (export.py): counts by area for the demographics report.
        nullif(trim(zip3), '') as zip3,
        -- As of the export date; the store keeps the date of birth (see operational_api/export.py).
        age_band,
        intake_date,
        discharged_date,
        cast({{ to_local('portal_activated_at') }} as date) as portal_activated_date,
        portal_activated_at,
        created_at,
        updated_at
    from source
)

select * from renamed
