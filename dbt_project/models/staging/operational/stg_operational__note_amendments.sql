with

source as (
    select * from {{ source('operational', 'note_amendments') }}
),

renamed as (
    select
        id as note_amendment_id,
        note_id,
        created_by as created_by_user_id,
        upper(trim(kind)) as amendment_kind,
        created_at,
        signed_at
    from source
)

select * from renamed
