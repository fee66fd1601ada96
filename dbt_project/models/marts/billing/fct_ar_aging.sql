{#- Accounts receivable on each month's last day, and today for the running month, aged from the service
    date: CURRENT (0-30 days), 31_60, 61_90, 91_120 and 120_PLUS. -#}
with

balances as (
    select * from {{ ref('int_charge_balances_by_period') }}
    where period_grain = 'month'
),

final as (
    select
        clinician_id,
        payer_id,
        aging_bucket,
        charge_count,
        balance_amount as outstanding_amount,
        period_start as month_start,
        as_of_date
    from balances
)

select * from final
