with

source as (
    select * from {{ source('operational', 'claims') }}
),

renamed as (
    select
        id as claim_id,
        client_id,
        payer_id,
        trim(claim_control_number) as claim_control_number,
        upper(trim(status)) as claim_status,
        upper(trim(denial_carc_code)) as denial_carc_code,
        rejection_reason,
        cast(total_charge_amount as numeric(12, 2)) as total_charge_amount,
        cast({{ to_local('submitted_at') }} as date) as submitted_date,
        submitted_at,
        accepted_at,
        rejected_at,
        denied_at,
        adjudicated_at
    from source
)

select * from renamed
