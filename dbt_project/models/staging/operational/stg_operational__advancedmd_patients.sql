with

source as (
    select * from {{ source('operational', 'advancedmd_patients') }}
),

renamed as (
    select
        id as advancedmd_patient_link_id,
        advancedmd_patient_id,
        client_id,
        office_key,
        upper(trim(sync_status)) as sync_status,
        sync_error,
        last_synced_at,
        created_at,
        updated_at
    from source
)

select * from renamed
