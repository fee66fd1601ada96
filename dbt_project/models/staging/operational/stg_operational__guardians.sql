with

source as (
    select * from {{ source('operational', 'guardians') }}
),

renamed as (
    select
        id as guardian_id,
        client_id,
        upper(trim(relationship)) as relationship
    from source
)

select * from renamed
