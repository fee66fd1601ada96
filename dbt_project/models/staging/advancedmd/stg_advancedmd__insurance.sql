with

source as (
    select * from {{ source('advancedmd', 'insurance') }}
),

renamed as (
    select
        insurance_id as advancedmd_insurance_id,
        patient_id as advancedmd_patient_id,
        office_key,
        upper(trim(carrier_code)) as carrier_code,
        upper(trim(carrier_name)) as carrier_name,
        upper(trim(relationship)) as subscriber_relationship,
        batch_id,
        sequence as coverage_rank,
        cast(copay as numeric(12, 2)) as copay_amount,
        active as is_active,
        has_subscriber_id,
        has_group_number,
        effective_start as effective_date,
        effective_end as termination_date,
        landed_at
    from source
)

select * from renamed
