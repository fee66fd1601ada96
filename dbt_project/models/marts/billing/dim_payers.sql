with

payers as (
    select * from {{ ref('stg_operational__payers') }}
),

final as (
    select
        payer_id,
        payer_code,
        payer_name
    from payers
)

select * from final
