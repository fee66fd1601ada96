with

source as (
    select * from {{ source('era', 'remark_codes') }}
),

renamed as (
    select
        source_file_id,
        remittance_id,
        claim_id as era_claim_key,
        service_line_id as era_service_line_key,
        segment_position,
        lower(trim(remark_level)) as remark_level,
        upper(trim(source_segment)) as source_segment,
        upper(trim(rarc_code)) as rarc_code
    from source
)

select * from renamed
