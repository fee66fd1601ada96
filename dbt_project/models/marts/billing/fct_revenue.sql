{#- Revenue = payments applied to charges, in the month of the payment date (cash basis), split by the
    rendering clinician, CPT code, payer (null for money from the client) and payment method. -#}
with

applications as (
    select * from {{ ref('int_payment_applications_of_record') }}
),

payments as (
    select * from {{ ref('fct_payments') }}
),

charges as (
    select * from {{ ref('fct_charges') }}
),

applied as (
    select
        {{ month_start('payments.payment_date') }} as revenue_month_start,
        charges.clinician_id,
        payments.payer_id,
        charges.cpt_code,
        payments.payment_method,
        payments.payment_source,
        applications.charge_id,
        applications.applied_amount
    from applications
    inner join payments on applications.payment_id = payments.payment_id
    inner join charges on applications.charge_id = charges.charge_id
),

final as (
    select
        revenue_month_start,
        clinician_id,
        payer_id,
        cpt_code,
        payment_method,
        payment_source,
        count(distinct charge_id) as charge_count,
        sum(applied_amount) as revenue_amount
    from applied
    group by 1, 2, 3, 4, 5, 6
)

select * from final
