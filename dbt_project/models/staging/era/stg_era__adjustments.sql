with

source as (
    select * from {{ source('era', 'adjustments') }}
),

renamed as (
    select
        source_file_id,
        remittance_id,
        claim_id as era_claim_key,
        service_line_id as era_service_line_key,
        segment_position,
        adjustment_sequence,
        lower(trim(adjustment_level)) as adjustment_level,
        upper(trim(group_code)) as group_code,
        upper(trim(carc_code)) as carc_code,
        cast(adjustment_amount as numeric(12, 2)) as adjustment_amount,
        adjustment_quantity
    from source
)

select * from renamed
