with

source as (
    select * from {{ source('advancedmd', 'claims') }}
),

renamed as (
    select
        claim_id as advancedmd_claim_id,
        visit_id as advancedmd_visit_id,
        patient_id as advancedmd_patient_id,
        office_key,
        upper(trim(carrier_code)) as carrier_code,
        -- X12 277 STC01-1 / -2 (terminology__x12_277_claim_categories says what the category means).
        upper(trim(category_code)) as category_code,
        upper(trim(status_code)) as status_code,
        batch_id,
        cast(payment_amount as numeric(12, 2)) as payment_amount,
        -- The practice-local day the visit's charges went to the carrier (getchargedetaildataicd10 datebilled).
        billed_date,
        verified_at,
        landed_at
    from source
)

select * from renamed
