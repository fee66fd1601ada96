with

source as (
    select * from {{ source('operational', 'payments') }}
),

renamed as (
    select
        id as payment_id,
        client_id,
        payer_id,
        era_file_id,
        created_by as created_by_user_id,
        upper(trim(payment_method)) as payment_method,
        check_number,
        transaction_id,
        cast(payment_amount as numeric(12, 2)) as payment_amount,
        payment_date,
        created_at
    from source
)

select * from renamed
