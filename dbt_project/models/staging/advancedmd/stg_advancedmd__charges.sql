with

source as (
    select * from {{ source('advancedmd', 'charges') }}
),

renamed as (
    select
        charge_id as advancedmd_charge_id,
        visit_id as advancedmd_visit_id,
        patient_id as advancedmd_patient_id,
        office_key,
        upper(trim(cpt_code)) as cpt_code,
        upper(trim(modifiers)) as modifiers,
        upper(trim(diagnosis_codes)) as diagnosis_codes,
        trim(place_of_service) as place_of_service_code,
        batch_id,
        units,
        cast(fee as numeric(12, 2)) as charge_amount,
        visit_date as service_date,
        begin_date_of_service as service_start_date,
        end_date_of_service as service_end_date,
        posting_date,
        created_at,
        changed_at,
        landed_at
    from source
)

select * from renamed
