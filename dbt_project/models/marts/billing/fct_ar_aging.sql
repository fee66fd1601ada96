{#- Accounts receivable on each month's last day, and today for the running month, aged from the service
    date: CURRENT (0-30 days), 31_60, 61_90, 91_120 and 120_PLUS. -#}
with

balances as (
    select * from {{ ref('int_charge_balances_by_period') }}
    where period_grain = 'month'
),

final as (
    select
        period_start as month_start,
        clinician_id,
        payer_id,
        aging_bucket,
        count(*) as charge_count,
        sum(balance_amount) as outstanding_amount,
        as_of_date
    from balances
    group by period_start, clinician_id, payer_id, aging_bucket, as_of_date
)

select * from final
