with

source as (
    select * from {{ source('operational', 'practice_settings') }}
),

renamed as (
    select
        id as practice_setting_id,
        lower(trim(key)) as setting_key,
        trim(value) as setting_value
    from source
)

select * from renamed
