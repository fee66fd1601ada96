with

source as (
    select * from {{ source('operational', 'advancedmd_provider_links') }}
),

renamed as (
    select
        id as advancedmd_provider_link_id,
        office_key,
        upper(trim(provider_code)) as provider_code,
        advancedmd_provider_id,
        clinician_id,
        upper(trim(link_source)) as link_source,
        upper(trim(sync_status)) as sync_status,
        created_at,
        updated_at
    from source
)

select * from renamed
