{#- Net Collection Rate (variant of the PRD's Collection Rate) = payments applied to date / (charges -
    contractual allowances CO-45), for non-void charges by service date. Recent periods grow as claims settle. -#}
{{ metric_periods(
    metric_key='net_collection_rate',
    events="(select * from " ~ ref('fct_charges') ~ " where not is_void)",
    date_column='service_date',
    numerator='paid_amount',
    denominator='charge_amount - contractual_adjustment_amount',
) }}
