with

source as (
    select * from {{ source('operational', 'payment_applications') }}
),

renamed as (
    select
        id as payment_application_id,
        payment_id,
        charge_id,
        era_claim_id,
        -- Negative for a reversal.
        cast(applied_amount as numeric(12, 2)) as applied_amount,
        cast({{ to_local('applied_at') }} as date) as applied_date,
        applied_at
    from source
)

select * from renamed
