{#- Rebuilt by key in a refresh (macros/fact_keys.sql): a payment whose row or applications changed. -#}
{{ config(materialized='incremental', incremental_strategy='by_key', unique_key='payment_id') }}
{% set rebuilt = changed_keys('payments', 'id') ~ ' union ' ~ changed_keys('payment_applications', 'payment_id') %}

with

payments as (
    select * from {{ ref('int_payments_of_record') }}
    {{- rebuilt_only('payment_id', rebuilt) }}
),

applications as (
    select * from {{ ref('int_payment_applications_of_record') }}
    {{- rebuilt_only('payment_id', rebuilt) }}
),

applied as (
    select
        payment_id,
        sum(applied_amount) as applied_amount,
        count(*) as application_count
    from applications
    group by 1
),

final as (
    select
        payments.payment_id,
        payments.client_id,
        payments.payer_id,
        payments.era_file_id,
        payments.payment_method,
        case when payments.payer_id is not null then 'INSURANCE' else 'CLIENT' end as payment_source,
        coalesce(applied.application_count, 0) as application_count,
        payments.payment_amount,
        coalesce(applied.applied_amount, 0) as applied_amount,
        payments.payment_amount - coalesce(applied.applied_amount, 0) as unapplied_amount,
        payments.payment_date,
        payments.created_at
    from payments
    left join applied on payments.payment_id = applied.payment_id
)

{{ rebuilt_rows('payment_id', rebuilt) }}
