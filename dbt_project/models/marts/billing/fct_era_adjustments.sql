with

adjustments as (select * from {{ ref('stg_era__adjustments') }}),

claims as (select * from {{ ref('fct_era_claims') }}),

carcs as (select * from {{ ref('terminology__carc_codes') }}),

groups as (select * from {{ ref('terminology__cas_group_codes') }}),

final as (
    select
        adjustments.source_file_id || ':' || cast(adjustments.segment_position as varchar)
        || ':' || cast(adjustments.adjustment_sequence as varchar) as era_adjustment_key,
        claims.era_claim_key,
        claims.matched_claim_id,
        adjustments.group_code,
        groups.description as group_description,
        adjustments.carc_code,
        coalesce(carcs.short_label, 'CARC ' || adjustments.carc_code) as carc_label,
        adjustments.adjustment_level,
        claims.payer_name,
        adjustments.adjustment_amount,
        adjustments.adjustment_quantity,
        coalesce(carcs.is_denial, false) or claims.is_denied as is_denial,
        claims.is_reversal,
        claims.payment_date,
        {{ month_start('claims.payment_date') }} as payment_month
    from adjustments
    inner join claims
        on adjustments.source_file_id || ':' || cast(adjustments.era_claim_key as varchar) = claims.era_claim_key
    left join carcs on adjustments.carc_code = carcs.code
    left join groups on adjustments.group_code = groups.code
)

select * from final
