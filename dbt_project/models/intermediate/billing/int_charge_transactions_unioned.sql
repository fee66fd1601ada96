{#- Every movement of a charge's receivable balance on its practice-local date: the charge itself (+),
    payments applied (-, a reversal is a negative application and so adds back) and adjustments other
    than patient responsibility (-). PR adjustments only move the balance from payer to client. fct_charges sums the
    same movements per charge (its balance_amount and settled_date); int_charge_balances_by_period runs them by
    date. The charges are read from fct_charges (their amount and entry date as entered): through
    int_charges_of_record each reader scanned every charge's staging view again. -#}
with

charges as (
    select * from {{ ref('fct_charges') }}
    where not is_void
),

applications as (
    select * from {{ ref('int_payment_applications_of_record') }}
),

adjustments as (
    select * from {{ ref('int_charge_adjustments_of_record') }}
),

unioned as (
    select
        charge_id,
        'CHARGE' as transaction_kind,
        charge_amount as balance_change_amount,
        entered_date as transaction_date
    from charges
    union all
    select
        applications.charge_id,
        'PAYMENT' as transaction_kind,
        -applications.applied_amount as balance_change_amount,
        applications.applied_date as transaction_date
    from applications
    inner join charges on applications.charge_id = charges.charge_id
    union all
    select
        adjustments.charge_id,
        'ADJUSTMENT' as transaction_kind,
        -adjustments.adjustment_amount as balance_change_amount,
        adjustments.adjusted_date as transaction_date
    from adjustments
    inner join charges on adjustments.charge_id = charges.charge_id
    where adjustments.group_code <> 'PR'
),

final as (
    select * from unioned
)

select * from final
