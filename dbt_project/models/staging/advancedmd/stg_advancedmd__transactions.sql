with

source as (
    select * from {{ source('advancedmd', 'transactions') }}
),

renamed as (
    select
        transaction_id as advancedmd_transaction_id,
        charge_id as advancedmd_charge_id,
        visit_id as advancedmd_visit_id,
        patient_id as advancedmd_patient_id,
        office_key,
        upper(trim(kind)) as transaction_kind,
        upper(trim(source)) as transaction_source,
        upper(trim(code)) as transaction_code,
        cast(amount as numeric(12, 2)) as amount,
        transaction_date,
        batch_id,
        landed_at
    from source
)

select * from renamed
