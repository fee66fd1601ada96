with

source as (
    select * from {{ source('advancedmd', 'patients') }}
),

renamed as (
    select
        patient_id as advancedmd_patient_id,
        provider_id as advancedmd_provider_id,
        office_key,
        upper(trim(chart)) as chart_number,
        upper(trim(sex)) as sex_code,
        upper(trim(state)) as state_code,
        upper(trim(provider_code)) as provider_code,
        upper(trim(fin_class_code)) as financial_class_code,
        batch_id,
        has_date_of_birth,
        has_address,
        has_phone,
        has_email,
        created_at,
        changed_at,
        landed_at
    from source
)

select * from renamed
