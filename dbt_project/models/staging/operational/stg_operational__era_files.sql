with

source as (
    select * from {{ source('operational', 'era_files') }}
),

renamed as (
    select
        id as era_file_id,
        payer_id,
        uploaded_by as uploaded_by_user_id,
        file_hash,
        file_name,
        interchange_control_number,
        trace_number,
        upper(trim(payment_method)) as payment_method,
        upper(trim(matching_status)) as matching_status,
        cast(payment_amount as numeric(12, 2)) as payment_amount,
        auto_matched_count,
        manual_review_count,
        payment_date,
        uploaded_at,
        processed_at
    from source
)

select * from renamed
