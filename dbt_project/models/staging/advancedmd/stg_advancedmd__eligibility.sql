with

source as (
    select * from {{ source('advancedmd', 'eligibility') }}
),

renamed as (
    select
        eligibility_id as advancedmd_eligibility_id,
        patient_id as advancedmd_patient_id,
        coverage_id as advancedmd_insurance_id,
        office_key,
        upper(trim(service_type)) as service_type_code,
        upper(trim(status)) as eligibility_status,
        upper(trim(plan_name)) as plan_name,
        upper(trim(reject_reason)) as reject_reason_code,
        batch_id,
        cast(copay as numeric(12, 2)) as copay_amount,
        cast(deductible as numeric(12, 2)) as deductible_amount,
        cast(deductible_remaining as numeric(12, 2)) as deductible_remaining_amount,
        is_eligible,
        checked_at,
        landed_at
    from source
)

select * from renamed
