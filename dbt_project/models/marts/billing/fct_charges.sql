{#- Amounts to date; `payer_id` is the claim's payer, else the client's primary policy (null = self-pay).
    Rebuilt by key in a refresh (macros/fact_keys.sql): a charge whose row, payments, adjustments, claim, client or
    client's policies changed. -#}
{{ config(materialized='incremental', incremental_strategy='by_key', unique_key='charge_id') }}
{% set rebuilt %}
    {{ changed_keys('charges', 'id') }}
    union
    {{ changed_keys('payment_applications', 'charge_id') }}
    union
    {{ changed_keys('charge_adjustments', 'charge_id') }}
    {{ rows_referring(ref('int_charges_of_record'), 'charge_id', [
        ('claim_id', 'claims', 'id'),
        ('client_id', 'clients', 'id'),
        ('client_id', 'insurance_policies', 'client_id'),
    ]) }}
{% endset %}

with

charges as (
    select * from {{ ref('int_charges_of_record') }}
    {{- rebuilt_only('charge_id', rebuilt) }}
),

claims as (
    select * from {{ ref('stg_operational__claims') }}
),

clients as (
    select * from {{ ref('stg_operational__clients') }}
),

policies as (
    select * from {{ ref('stg_operational__insurance_policies') }}
    {{- rebuilt_only('client_id', 'select charges.client_id from charges') }}
),

applications as (
    select * from {{ ref('int_payment_applications_of_record') }}
    {{- rebuilt_only('charge_id', rebuilt) }}
),

adjustments as (
    select * from {{ ref('int_charge_adjustments_of_record') }}
    {{- rebuilt_only('charge_id', rebuilt) }}
),

primary_policies as (
    select
        client_id,
        min(payer_id) as payer_id
    from policies
    where policy_rank = 1
    group by 1
),

paid as (
    select
        charge_id,
        sum(applied_amount) as paid_amount,
        min(applied_date) as first_paid_date,
        max(applied_date) as last_paid_date
    from applications
    group by 1
),

adjusted as (
    select
        charge_id,
        sum(case when group_code = 'CO' and carc_code = '45' then adjustment_amount else 0 end) as contractual_adjustment_amount,
        sum(case when group_code <> 'PR' then adjustment_amount else 0 end) as write_off_amount,
        sum(case when group_code = 'PR' then adjustment_amount else 0 end) as patient_responsibility_amount,
        max(case when group_code <> 'PR' then adjusted_date end) as last_write_off_date
    from adjustments
    group by 1
),

-- Each charge with its sums, and its receivable's movements (int_charge_balances_by_period dates them) summed from
-- them rather than read again: the charge, less its payments and its adjustments other than patient responsibility;
-- last moved on the latest of their dates (greatest() skips nulls on both warehouses). A void charge has none.
amounts as (
    select
        charges.*,
        paid.paid_amount,
        paid.first_paid_date,
        adjusted.contractual_adjustment_amount,
        adjusted.write_off_amount,
        -- Not the store charge's own running total of the same name (charges.*).
        adjusted.patient_responsibility_amount as adjusted_patient_responsibility_amount,
        case
            when charges.charge_status <> 'VOID'
                then charges.charge_amount - coalesce(paid.paid_amount, 0) - coalesce(adjusted.write_off_amount, 0)
        end as open_amount,
        greatest(charges.entered_date, paid.last_paid_date, adjusted.last_write_off_date) as last_transaction_date
    from charges
    left join paid on charges.charge_id = paid.charge_id
    left join adjusted on charges.charge_id = adjusted.charge_id
),

final as (
    select
        charges.charge_id,
        charges.client_id,
        charges.clinician_id,
        charges.appointment_id,
        charges.note_id,
        charges.claim_id,
        case when claims.payer_id is not null then claims.payer_id when not clients.is_self_pay then primary_policies.payer_id end
            as payer_id,
        charges.cpt_code,
        charges.modifiers,
        charges.charge_status,
        charges.units,
        {{ days_between('charges.service_date', 'charges.entered_date') }} as entry_lag_days,
        charges.charge_amount,
        coalesce(charges.paid_amount, 0) as paid_amount,
        coalesce(charges.contractual_adjustment_amount, 0) as contractual_adjustment_amount,
        coalesce(charges.write_off_amount, 0) as write_off_amount,
        coalesce(charges.adjusted_patient_responsibility_amount, 0) as patient_responsibility_amount,
        case when charges.charge_status = 'VOID' then 0 else coalesce(charges.open_amount, 0) end as balance_amount,
        charges.is_billing_hold,
        charges.charge_status = 'VOID' as is_void,
        charges.service_date,
        charges.entered_date,
        charges.first_paid_date,
        -- Settled = nothing left to collect; the date of the movement that closed it.
        case when charges.charge_status <> 'VOID' and charges.open_amount <= 0.005 then charges.last_transaction_date end
            as settled_date,
        charges.entered_at
    from amounts as charges
    left join claims on charges.claim_id = claims.claim_id
    left join clients on charges.client_id = clients.client_id
    left join primary_policies on charges.client_id = primary_policies.client_id
)

{{ rebuilt_rows('charge_id', rebuilt) }}
