{#- A claim's clinician is the rendering clinician of its charges (one visit per claim). Accepted = the
    payer took it for adjudication (not rejected at the front end); denied is an adjudicated outcome. -#}
with

claims as (
    select * from {{ ref('stg_operational__claims') }}
),

charges as (
    select * from {{ ref('int_charges_of_record') }}
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

select * from final
