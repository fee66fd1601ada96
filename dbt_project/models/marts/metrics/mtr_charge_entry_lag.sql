{#- Charge Entry Lag = sum of days from service date to the practice-local entry date / charge lines entered,
    by entry date up to today (void charges excluded). -#}
{{ metric_periods(
    metric_key='charge_entry_lag',
    events="(select * from " ~ ref('fct_charges') ~ " where not is_void and entered_date <= " ~ as_of_date() ~ ")",
    date_column='entered_date',
    numerator='entry_lag_days',
    denominator='1',
    value='ratio',
    grains=['day', 'week', 'month'],
) }}
