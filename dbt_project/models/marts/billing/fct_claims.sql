{#- A claim's clinician is the rendering clinician of its charges (one visit per claim). Accepted = the
    payer took it for adjudication (not rejected at the front end); denied is an adjudicated outcome.

    With AdvancedMD as billing's system of record (system_of_record), the claims are AdvancedMD's: one per
    claim id its claim status (276/277) answers for a visit at the carrier the visit was last billed to
    (a resubmission is a new claim; a visit billed to primary and then secondary has one at each). Its outcome
    is the 277 category of its first STC read as terminology__x12_277_claim_categories says; its submission
    date the practice-local day the visit's charges were billed (AdvancedMD's datebilled: the 277 carries no
    submission date, and the store cuts the measure by submission date too); its adjudication date the day we
    first read a finalized answer (the 277 carries none either). Client (patient link), payer (carrier code =
    payer code), and the clinician, lines and total of the visit's charges of record. No control number or
    response times: AdvancedMD's API gives neither.

    Rebuilt by key in a refresh (macros/fact_keys.sql; never with AdvancedMD as the record): a claim whose row
    changed or whose charges did (those it has, or had). -#}
{{ config(materialized='incremental', incremental_strategy='by_key', unique_key='claim_id') }}
{% set rebuilt = changed_keys('claims', 'id') ~ ' union ' ~ changed_keys('charges', 'claim_id') %}
{% if system_of_record('billing') == 'advancedmd' %}
    with

    amd_claims as (
        select * from {{ ref('stg_advancedmd__claims') }}
    ),

    categories as (
        select * from {{ ref('terminology__x12_277_claim_categories') }}
    ),

    visits as (
        select * from {{ ref('int_advancedmd_visits_linked') }}
    ),

    payers as (
        select * from {{ ref('stg_operational__payers') }}
    ),

    charges as (
        select * from {{ ref('int_charges_of_record') }}
    ),

    visit_charges as (
        select
            appointment_id,
            min(clinician_id) as clinician_id,
            count(*) as charge_line_count,
            sum(charge_amount) as total_charge_amount
        from charges
        group by 1
    ),

    outcomes as (
        select
            amd_claims.*,
            visits.client_id,
            coalesce(visits.store_appointment_id, {{ advancedmd_appointment_id('amd_claims.advancedmd_visit_id') }})
                as appointment_id,
            coalesce(categories.claim_status, 'SUBMITTED') as claim_status,
            coalesce(categories.has_response, false) as has_response,
            coalesce(categories.is_accepted, false) as is_accepted,
            coalesce(categories.is_adjudicated, false) as is_adjudicated,
            coalesce(categories.is_denied, false) as is_denied
        from amd_claims
        left join categories on amd_claims.category_code = categories.category_code
        left join visits
            on amd_claims.office_key = visits.office_key
            and amd_claims.advancedmd_visit_id = visits.advancedmd_visit_id
    ),

    final as (
        select
            -outcomes.advancedmd_claim_id as claim_id,
            outcomes.client_id,
            payers.payer_id,
            visit_charges.clinician_id,
            cast(null as varchar) as claim_control_number,
            outcomes.claim_status,
            cast(null as varchar) as denial_carc_code,
            coalesce(visit_charges.charge_line_count, 0) as charge_line_count,
            visit_charges.total_charge_amount,
            outcomes.claim_status = 'REJECTED' as is_rejected,
            outcomes.is_denied,
            outcomes.is_adjudicated,
            outcomes.is_accepted,
            outcomes.has_response,
            outcomes.billed_date as submitted_date,
            case when outcomes.is_adjudicated then cast({{ to_local('outcomes.verified_at') }} as date) end
                as adjudicated_date,
            cast(null as timestamp) as submitted_at,
            cast(null as timestamp) as accepted_at,
            cast(null as timestamp) as rejected_at,
            cast(null as timestamp) as denied_at,
            case when outcomes.is_adjudicated then outcomes.verified_at end as adjudicated_at
        from outcomes
        left join payers on outcomes.carrier_code = payers.payer_code
        left join visit_charges on outcomes.appointment_id = visit_charges.appointment_id
    )

    select * from final
{% else %}
    with

    claims as (
        select * from {{ ref('stg_operational__claims') }}
        {{- rebuilt_only('claim_id', rebuilt) }}
    ),

    charges as (
        select * from {{ ref('int_charges_of_record') }}
        {{- rebuilt_only('claim_id', rebuilt) }}
    ),

    claim_clinicians as (
        select
            claim_id,
            min(clinician_id) as clinician_id,
            count(*) as charge_line_count
        from charges
        where claim_id is not null
        group by 1
    ),

    final as (
        select
            claims.claim_id,
            claims.client_id,
            claims.payer_id,
            claim_clinicians.clinician_id,
            claims.claim_control_number,
            claims.claim_status,
            claims.denial_carc_code,
            coalesce(claim_clinicians.charge_line_count, 0) as charge_line_count,
            claims.total_charge_amount,
            -- Outcomes read from the response timestamps as well as the status: a paid claim may keep an older
            -- status in the store, and the timestamps are what the clearinghouse and the 835 set.
            claims.claim_status = 'REJECTED' or claims.rejected_at is not null as is_rejected,
            claims.claim_status = 'DENIED' or claims.denied_at is not null as is_denied,
            claims.adjudicated_at is not null or claims.claim_status in ('DENIED', 'PAID', 'PARTIALLY_PAID') as is_adjudicated,
            claims.claim_status not in ('SUBMITTED', 'REJECTED') or claims.accepted_at is not null or claims.adjudicated_at is not null
                as is_accepted,
            claims.claim_status <> 'SUBMITTED' or claims.accepted_at is not null or claims.rejected_at is not null
            or claims.adjudicated_at is not null as has_response,
            claims.submitted_date,
            cast({{ to_local('claims.adjudicated_at') }} as date) as adjudicated_date,
            claims.submitted_at,
            claims.accepted_at,
            claims.rejected_at,
            claims.denied_at,
            claims.adjudicated_at
        from claims
        left join claim_clinicians on claims.claim_id = claim_clinicians.claim_id
    )

    {{ rebuilt_rows('claim_id', rebuilt) }}
{% endif %}
