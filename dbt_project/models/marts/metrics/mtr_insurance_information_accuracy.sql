{#- Insurance Information Accuracy = insured active clients whose insurance is verified (a policy in effect
    with a member id, and a VERIFIED eligibility check not expired on that date) / insured active clients
    (a policy in effect, not self-pay), as of each period's end. -#}
with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
    where not is_self_pay and {{ metric_window_from('period_start') }}
),

policies as (
    select * from {{ ref('stg_operational__insurance_policies') }}
),

verifications as (
    select * from {{ ref('stg_operational__insurance_verifications') }}
    where verification_status = 'VERIFIED'
),

insured as (
    select
        active_clients.period_grain,
        active_clients.period_start,
        active_clients.client_id,
        active_clients.clinician_id,
        active_clients.as_of_date,
        max(case when policies.has_member_id then 1 else 0 end) as has_member_id
    from active_clients
    inner join policies
        on active_clients.client_id = policies.client_id
        and policies.effective_date <= active_clients.as_of_date
        and (policies.termination_date is null or policies.termination_date >= active_clients.as_of_date)
    group by 1, 2, 3, 4, 5
),

verified as (
    select
        insured.period_grain,
        insured.period_start,
        insured.client_id
    from insured
    inner join verifications
        on insured.client_id = verifications.client_id
        and verifications.verified_date <= insured.as_of_date
        and (verifications.expires_date is null or verifications.expires_date > insured.as_of_date)
    group by 1, 2, 3
),

metric_parts as (
    select
        insured.period_grain,
        insured.period_start,
        insured.clinician_id,
        case when verified.client_id is not null and insured.has_member_id = 1 then 1 else 0 end as numerator_part,
        1 as denominator_part
    from insured
    left join verified
        on insured.period_grain = verified.period_grain
        and insured.period_start = verified.period_start
        and insured.client_id = verified.client_id
),

{{ metric_rollup('insurance_information_accuracy', 'metric_parts') }}
