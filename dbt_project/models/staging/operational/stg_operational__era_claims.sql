with

source as (
    select * from {{ source('operational', 'era_claims') }}
),

renamed as (
    select
        id as era_claim_id,
        era_file_id,
        matched_claim_id,
        matched_charge_id,
        trim(payer_claim_control_number) as payer_claim_control_number,
        trim(claim_control_number) as claim_control_number,
        upper(trim(claim_status_code)) as claim_status_code,
        upper(trim(match_method)) as match_method,
        upper(trim(review_status)) as review_status,
        segment_position,
        cast(charge_amount as numeric(12, 2)) as charge_amount,
        cast(paid_amount as numeric(12, 2)) as paid_amount,
        cast(patient_responsibility_amount as numeric(12, 2)) as patient_responsibility_amount,
        match_confidence,
        posted_at
    from source
)

select * from renamed
