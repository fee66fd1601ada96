{#- The practice's charges as the system of record for billing holds them (system_of_record), in the columns of
    stg_operational__charges.

    store: the store's charges.
    advancedmd: one row per AdvancedMD charge line (int_advancedmd_charges_linked). AdvancedMD's row wins for
    what it holds: CPT code, modifiers, units, amount, date of service, entry time, client (patient link) and
    clinician (provider link, else the store's), and the claim: the latest AdvancedMD claim of its visit
    (fct_claims). The store charge of the same line fills what AdvancedMD's API does not give us: the note, the
    charge status and the billing hold. The running totals are AdvancedMD's payments and write-offs
    (gettxhistory). A line with no store counterpart is not on hold, and its status is the store's rule
    (operational_api.era.posting.charge_status) applied to AdvancedMD's claim and totals: UNBILLED without a
    claim; BILLED with nothing adjudicated; DENIED with only payer write-offs; PAID when payments and write-offs
    cover the amount; else PARTIALLY_PAID. -#}
{% if system_of_record('billing') == 'advancedmd' %}
    with

    lines as (
        select * from {{ ref('int_advancedmd_charges_linked') }}
    ),

    store as (
        select * from {{ ref('stg_operational__charges') }}
    ),

    transactions as (
        select * from {{ ref('stg_advancedmd__transactions') }}
    ),

    visit_claims as (
        -- A resubmission is a new claim: the line is on the latest one (fct_claims' id for it).
        select
            office_key,
            advancedmd_visit_id,
            -max(advancedmd_claim_id) as claim_id
        from {{ ref('stg_advancedmd__claims') }}
        group by 1, 2
    ),

    totals as (
        select
            office_key,
            advancedmd_charge_id,
            sum(case when transaction_kind = 'PAYMENT' then amount else 0 end) as payment_amount,
            sum(case when transaction_kind = 'WRITEOFF' and transaction_code not like 'PR%' then amount else 0 end)
                as adjustment_amount,
            sum(case when transaction_kind = 'WRITEOFF' and transaction_code like 'PR%' then amount else 0 end)
                as patient_responsibility_amount
        from transactions
        group by 1, 2
    ),

    final as (
        select
            lines.charge_id,
            lines.client_id,
            coalesce(lines.linked_clinician_id, store.clinician_id) as clinician_id,
            lines.appointment_id,
            store.note_id,
            visit_claims.claim_id,
            store.created_by_user_id,
            lines.cpt_code,
            lines.modifiers,
            case
                when store.charge_id is not null then store.charge_status
                when visit_claims.claim_id is null then 'UNBILLED'
                when
                    coalesce(totals.payment_amount, 0) <= 0
                    and coalesce(totals.adjustment_amount, 0) <= 0
                    and coalesce(totals.patient_responsibility_amount, 0) <= 0
                    then 'BILLED'
                when
                    coalesce(totals.payment_amount, 0) <= 0
                    and coalesce(totals.patient_responsibility_amount, 0) <= 0
                    then 'DENIED'
                when
                    lines.charge_amount - coalesce(totals.payment_amount, 0)
                    - coalesce(totals.adjustment_amount, 0) <= 0
                    then 'PAID'
                else 'PARTIALLY_PAID'
            end as charge_status,
            lines.units,
            lines.charge_amount,
            cast(coalesce(totals.payment_amount, 0) as numeric(12, 2)) as payment_amount,
            cast(coalesce(totals.adjustment_amount, 0) as numeric(12, 2)) as adjustment_amount,
            cast(coalesce(totals.patient_responsibility_amount, 0) as numeric(12, 2)) as patient_responsibility_amount,
            coalesce(store.is_billing_hold, false) as is_billing_hold,
            lines.service_date,
            cast({{ to_local('lines.created_at') }} as date) as entered_date,
            lines.created_at as entered_at,
            lines.changed_at as updated_at
        from lines
        left join store
            on lines.store_charge_id = store.charge_id
        left join totals
            on lines.office_key = totals.office_key
            and lines.advancedmd_charge_id = totals.advancedmd_charge_id
        left join visit_claims
            on lines.office_key = visit_claims.office_key
            and lines.advancedmd_visit_id = visit_claims.advancedmd_visit_id
    )

    select * from final
{% else %}
    select * from {{ ref('stg_operational__charges') }}
{% endif %}
