with

source as (
    select * from {{ source('operational', 'insurance_verifications') }}
),

renamed as (
    select
        id as insurance_verification_id,
        policy_id as insurance_policy_id,
        client_id,
        verified_by as verified_by_user_id,
        upper(trim(status)) as verification_status,
        upper(trim(source)) as verification_source,
        is_eligible,
        cast({{ to_local('verified_at') }} as date) as verified_date,
        cast({{ to_local('expires_at') }} as date) as expires_date,
        verified_at,
        expires_at
    from source
)

select * from renamed
