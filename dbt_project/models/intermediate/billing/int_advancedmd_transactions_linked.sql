{#- AdvancedMD payments and write-offs (gettxhistory) on the charge ids the facts use
    (int_advancedmd_charges_linked). A transaction on a line that did not land (quarantined, e.g. a practice
    code that is not CPT) has no charge id here; the quarantine row is its alert. Each transaction stands
    for its own payment: gettxhistory gives no deposit or check it belongs to. -#}
with

transactions as (
    select * from {{ ref('stg_advancedmd__transactions') }}
),

lines as (
    select * from {{ ref('int_advancedmd_charges_linked') }}
),

patient_links as (
    select * from {{ ref('stg_operational__advancedmd_patients') }}
),

final as (
    select
        -transactions.advancedmd_transaction_id as transaction_id,
        lines.charge_id,
        patient_links.client_id,
        transactions.office_key,
        transactions.advancedmd_transaction_id,
        transactions.advancedmd_charge_id,
        transactions.advancedmd_patient_id,
        transactions.transaction_kind,
        transactions.transaction_source,
        transactions.transaction_code,
        transactions.amount,
        transactions.transaction_date,
        -- gettxhistory dates are days; the instant is the start of that practice-local day.
        {{ from_local('cast(transactions.transaction_date as timestamp)') }} as transaction_at
    from transactions
    left join lines
        on transactions.office_key = lines.office_key
        and transactions.advancedmd_charge_id = lines.advancedmd_charge_id
    left join patient_links
        on transactions.office_key = patient_links.office_key
        and transactions.advancedmd_patient_id = patient_links.advancedmd_patient_id
)

select * from final
