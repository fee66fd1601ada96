with

claims as (select * from {{ ref('stg_era__claim_payments') }}),

remittances as (select * from {{ ref('stg_era__remittances') }}),

store_files as (select * from {{ ref('stg_operational__era_files') }}),

store_claims as (select * from {{ ref('stg_operational__era_claims') }}),

statuses as (select * from {{ ref('terminology__claim_status_codes') }}),

matched as (
    -- How the platform matched and posted each CLP (the store keeps that; the 835 doesn't).
    select
        store_files.file_hash as source_file_id,
        store_claims.segment_position,
        store_claims.era_claim_id,
        store_claims.matched_claim_id,
        store_claims.matched_charge_id,
        store_claims.match_method,
        store_claims.match_confidence,
        store_claims.review_status,
        store_claims.posted_at
    from store_claims
    inner join store_files on store_claims.era_file_id = store_files.era_file_id
),

final as (
    select
        claims.source_file_id || ':' || cast(claims.era_claim_key as varchar) as era_claim_key,
        claims.source_file_id,
        matched.era_claim_id,
        matched.matched_claim_id,
        matched.matched_charge_id,
        claims.claim_control_number,
        claims.payer_claim_control_number,
        claims.claim_status_code,
        statuses.description as claim_status,
        remittances.payer_id,
        remittances.payer_name,
        remittances.trace_number,
        matched.match_method,
        matched.review_status,
        claims.charge_amount,
        claims.paid_amount,
        claims.patient_responsibility_amount,
        claims.claim_adjustment_amount + claims.line_adjustment_amount as adjustment_amount,
        matched.match_confidence,
        claims.service_line_count,
        claims.is_reversal,
        claims.is_denied,
        claims.is_balanced,
        matched.posted_at is not null as is_posted,
        remittances.payment_date,
        claims.statement_from_date,
        claims.statement_to_date,
        matched.posted_at
    from claims
    inner join remittances
        on claims.source_file_id = remittances.source_file_id and claims.remittance_id = remittances.remittance_id
    left join statuses on claims.claim_status_code = statuses.code
    left join matched
        on claims.source_file_id = matched.source_file_id and claims.segment_position = matched.segment_position
)

select * from final
