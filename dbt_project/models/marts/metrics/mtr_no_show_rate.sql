{#- No-Show Rate = no-shows / appointments that reached a final status (same denominator as KVR). -#}
{{ metric_periods(
    metric_key='no_show_rate',
    events="(select * from " ~ ref('fct_appointments') ~ " where is_final_status)",
    date_column='appointment_date',
    numerator='case when is_no_show then 1 else 0 end',
    denominator='1',
    grains=['day', 'week', 'month'],
) }}
