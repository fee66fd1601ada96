with

source as (
    select * from {{ source('operational', 'insurance_policies') }}
),

renamed as (
    select
        id as insurance_policy_id,
        client_id,
        payer_id,
        rank as policy_rank,
        has_member_id,
        effective_date,
        termination_date
    from source
)

select * from renamed
