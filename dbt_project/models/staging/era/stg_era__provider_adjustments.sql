with

source as (
    select * from {{ source('era', 'provider_adjustments') }}
),

renamed as (
    select
        source_file_id,
        remittance_id,
        segment_position,
        adjustment_sequence,
        provider_id,
        upper(trim(reason_code)) as reason_code,
        reference_id,
        cast(adjustment_amount as numeric(12, 2)) as adjustment_amount,
        fiscal_period_date
    from source
)

select * from renamed
