with

source as (
    select * from {{ source('era', 'service_lines') }}
),

renamed as (
    select
        source_file_id,
        service_line_id as era_service_line_key,
        claim_id as era_claim_key,
        remittance_id,
        segment_position,
        upper(trim(cpt_code)) as cpt_code,
        upper(trim(modifiers)) as modifiers,
        upper(trim(original_cpt_code)) as original_cpt_code,
        line_item_control_number,
        cast(charge_amount as numeric(12, 2)) as charge_amount,
        cast(paid_amount as numeric(12, 2)) as paid_amount,
        cast(allowed_amount as numeric(12, 2)) as allowed_amount,
        cast(adjustment_amount as numeric(12, 2)) as adjustment_amount,
        cast(patient_responsibility_amount as numeric(12, 2)) as patient_responsibility_amount,
        units_paid,
        is_balanced,
        coalesce(service_date, service_start_date) as service_date
    from source
)

select * from renamed
