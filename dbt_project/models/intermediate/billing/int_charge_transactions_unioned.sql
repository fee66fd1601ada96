{#- Every movement of a charge's receivable balance on its practice-local date (macros/charge_transactions.sql).
    fct_charges sums the same movements per charge (its balance_amount and settled_date). The charges are read from
    fct_charges (their amount and entry date as entered): through int_charges_of_record each reader scanned every
    charge's staging view again. -#}
with

charges as (
    select * from {{ ref('fct_charges') }}
    where not is_void
),

unioned as (
    {{ charge_transactions('charges') }}
),

final as (
    select * from unioned
)

select * from final
