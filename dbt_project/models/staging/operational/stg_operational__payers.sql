with

source as (
    select * from {{ source('operational', 'payers') }}
),

renamed as (
    select
        id as payer_id,
        trim(name) as payer_name,
        upper(trim(payer_code)) as payer_code
    from source
)

select * from renamed
