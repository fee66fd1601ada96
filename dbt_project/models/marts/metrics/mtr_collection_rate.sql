{#- Collection Rate (net) = payments applied to date / (charges - contractual allowances CO-45), for charges
    by service date (void charges excluded). Recent periods grow as claims settle. -#}
{{ metric_periods(
    metric_key='collection_rate',
    events="(select * from " ~ ref('fct_charges') ~ " where not is_void)",
    date_column='service_date',
    numerator='paid_amount',
    denominator='charge_amount - contractual_adjustment_amount',
) }}
