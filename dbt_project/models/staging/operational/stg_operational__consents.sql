with

source as (
    select * from {{ source('operational', 'consents') }}
),

renamed as (
    select
        id as consent_id,
        client_id,
        guardian_id,
        upper(trim(consent_type)) as consent_type,
        signed_date,
        expiry_date,
        revoked_date
    from source
)

select * from renamed
