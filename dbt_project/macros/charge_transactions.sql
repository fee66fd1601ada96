{#- Every movement of the receivable balance of the charges in the relation or CTE `charges` (charge_id,
    charge_amount, entered_date; no void charge) on its practice-local date: the charge itself (+), payments
    applied (-, a reversal is a negative application and so adds back) and adjustments other than patient
    responsibility (-). PR adjustments only move the balance from payer to client.
    One home for int_charge_transactions_unioned (every charge) and int_charge_balances_by_period (the window's
    open charges): filtering the view afterwards built every charge's movements first, since neither warehouse
    pushes a filter into a union's branches (on the 1,000-clinician practice's PostgreSQL, the model's query took
    26-28 s this way against 31-34 s, 2026-12-06, under load). -#}
{% macro charge_transactions(charges) %}
    select
        charge_id,
        'CHARGE' as transaction_kind,
        charge_amount as balance_change_amount,
        entered_date as transaction_date
    from {{ charges }}
    union all
    select
        applications.charge_id,
        'PAYMENT' as transaction_kind,
        -applications.applied_amount as balance_change_amount,
        applications.applied_date as transaction_date
    from {{ ref('int_payment_applications_of_record') }} as applications
    inner join {{ charges }} as charges on applications.charge_id = charges.charge_id
    union all
    select
        adjustments.charge_id,
        'ADJUSTMENT' as transaction_kind,
        -adjustments.adjustment_amount as balance_change_amount,
        adjustments.adjusted_date as transaction_date
    from {{ ref('int_charge_adjustments_of_record') }} as adjustments
    inner join {{ charges }} as charges on adjustments.charge_id = charges.charge_id
    where adjustments.group_code <> 'PR'
{% endmacro %}
