{#- Charge adjustments from the system of record for billing, in the columns of
    stg_operational__charge_adjustments: the store's, or AdvancedMD's write-offs, whose code is the CAS group
    and reason (CO45, PR2 ...). -#}
{% if system_of_record('billing') == 'advancedmd' %}
    select
        transaction_id as charge_adjustment_id,
        charge_id,
        cast(null as integer) as era_claim_id,
        substr(transaction_code, 1, 2) as group_code,
        substr(transaction_code, 3) as carc_code,
        cast(null as varchar) as rarc_codes,
        cast(amount as numeric(12, 2)) as adjustment_amount,
        transaction_date as adjusted_date,
        transaction_at as adjusted_at
    from {{ ref('int_advancedmd_transactions_linked') }}
    where transaction_kind = 'WRITEOFF' and charge_id is not null
{% else %}
    select * from {{ ref('stg_operational__charge_adjustments') }}
{% endif %}
