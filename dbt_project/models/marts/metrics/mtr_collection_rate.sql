{#- Collection Rate (PRD) = total collections / total charges: payments applied to date (insurance and client)
    / billed charge amounts, for non-void charges by service date. Contractual allowances stay in the
    denominator (net_collection_rate takes them out). Recent periods grow as claims settle. -#}
{{ metric_periods(
    metric_key='collection_rate',
    events="(select * from " ~ ref('fct_charges') ~ " where not is_void)",
    date_column='service_date',
    numerator='paid_amount',
    denominator='charge_amount',
) }}
