with

source as (
    select * from {{ source('operational', 'charge_adjustments') }}
),

renamed as (
    select
        id as charge_adjustment_id,
        charge_id,
        era_claim_id,
        upper(trim(group_code)) as group_code,
        upper(trim(carc_code)) as carc_code,
        upper(trim(rarc_codes)) as rarc_codes,
        cast(adjustment_amount as numeric(12, 2)) as adjustment_amount,
        cast({{ to_local('adjusted_at') }} as date) as adjusted_date,
        adjusted_at
    from source
)

select * from renamed
