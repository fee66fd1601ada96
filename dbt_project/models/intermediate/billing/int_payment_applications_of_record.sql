{#- Payments applied to charges, from the system of record for billing, in the columns of
    stg_operational__payment_applications: the store's, or AdvancedMD's payment transactions on the charges of
    record (int_charges_of_record), each its own payment. -#}
{% if system_of_record('billing') == 'advancedmd' %}
    select
        transaction_id as payment_application_id,
        transaction_id as payment_id,
        charge_id,
        cast(null as integer) as era_claim_id,
        cast(amount as numeric(12, 2)) as applied_amount,
        transaction_date as applied_date,
        transaction_at as applied_at
    from {{ ref('int_advancedmd_transactions_linked') }}
    where transaction_kind = 'PAYMENT' and charge_id is not null
{% else %}
    select * from {{ ref('stg_operational__payment_applications') }}
{% endif %}
