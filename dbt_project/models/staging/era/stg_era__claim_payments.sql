with

source as (
    select * from {{ source('era', 'claim_payments') }}
),

renamed as (
    select
        source_file_id,
        claim_id as era_claim_key,
        remittance_id,
        segment_position,
        upper(trim(patient_control_number)) as claim_control_number,
        payer_claim_control_number,
        trim(claim_status_code) as claim_status_code,
        upper(trim(claim_filing_indicator_code)) as claim_filing_indicator_code,
        rendering_provider_npi,
        cast(charge_amount as numeric(12, 2)) as charge_amount,
        cast(paid_amount as numeric(12, 2)) as paid_amount,
        cast(patient_responsibility_amount as numeric(12, 2)) as patient_responsibility_amount,
        cast(claim_adjustment_amount as numeric(12, 2)) as claim_adjustment_amount,
        cast(line_adjustment_amount as numeric(12, 2)) as line_adjustment_amount,
        service_line_count,
        is_reversal,
        is_denied,
        is_balanced,
        statement_from_date,
        statement_to_date,
        claim_received_date
    from source
)

select * from renamed
