with

lines as (select * from {{ ref('stg_era__service_lines') }}),

claims as (select * from {{ ref('fct_era_claims') }}),

final as (
    select
        lines.source_file_id || ':' || cast(lines.era_service_line_key as varchar) as era_service_line_key,
        claims.era_claim_key,
        lines.source_file_id,
        claims.matched_claim_id,
        lines.cpt_code,
        lines.modifiers,
        claims.payer_name,
        claims.claim_status_code,
        lines.charge_amount,
        lines.allowed_amount,
        lines.paid_amount,
        lines.adjustment_amount,
        lines.patient_responsibility_amount,
        lines.units_paid,
        lines.is_balanced,
        claims.is_reversal,
        lines.service_date,
        claims.payment_date
    from lines
    inner join claims
        on lines.source_file_id || ':' || cast(lines.era_claim_key as varchar) = claims.era_claim_key
)

select * from final
