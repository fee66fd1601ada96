{#- Payments from the system of record for billing, in the columns of stg_operational__payments: the store's,
    or one per AdvancedMD payment transaction (gettxhistory has no deposit or check). An insurance payment's
    payer is the carrier of the patient's first active coverage in AdvancedMD, as our payer with that code. -#}
{% if system_of_record('billing') == 'advancedmd' %}
    with

    transactions as (
        select * from {{ ref('int_advancedmd_transactions_linked') }}
        where transaction_kind = 'PAYMENT'
    ),

    primary_coverages as (
        select
            office_key,
            advancedmd_patient_id,
            carrier_code,
            row_number() over (
                partition by office_key, advancedmd_patient_id order by coverage_rank, advancedmd_insurance_id
            ) as coverage_order
        from {{ ref('stg_advancedmd__insurance') }}
        where is_active
    ),

    payers as (
        select * from {{ ref('stg_operational__payers') }}
    ),

    final as (
        select
            transactions.transaction_id as payment_id,
            transactions.client_id,
            case when transactions.transaction_source = 'INS' then payers.payer_id end as payer_id,
            cast(null as integer) as era_file_id,
            cast(null as integer) as created_by_user_id,
            transactions.transaction_code as payment_method,
            cast(null as varchar) as check_number,
            cast(null as varchar) as transaction_id,
            cast(transactions.amount as numeric(12, 2)) as payment_amount,
            transactions.transaction_date as payment_date,
            transactions.transaction_at as created_at
        from transactions
        left join primary_coverages
            on transactions.office_key = primary_coverages.office_key
            and transactions.advancedmd_patient_id = primary_coverages.advancedmd_patient_id
            and primary_coverages.coverage_order = 1
        left join payers
            on primary_coverages.carrier_code = payers.payer_code
    )

    select * from final
{% else %}
    select * from {{ ref('stg_operational__payments') }}
{% endif %}
