with

source as (
    select * from {{ source('era', 'remittances') }}
),

renamed as (
    select
        source_file_id,
        remittance_id,
        segment_position,
        interchange_control_number,
        transaction_set_control_number,
        trace_number,
        payer_id,
        upper(trim(payer_name)) as payer_name,
        payee_npi,
        upper(trim(payment_method_code)) as payment_method_code,
        upper(trim(credit_debit_flag)) as credit_debit_flag,
        cast(payment_amount as numeric(12, 2)) as payment_amount,
        cast(total_charge_amount as numeric(12, 2)) as total_charge_amount,
        cast(total_paid_amount as numeric(12, 2)) as total_paid_amount,
        cast(total_patient_responsibility_amount as numeric(12, 2)) as total_patient_responsibility_amount,
        cast(provider_adjustment_amount as numeric(12, 2)) as provider_adjustment_amount,
        claim_count,
        service_line_count,
        is_balanced,
        payment_date
    from source
)

select * from renamed
