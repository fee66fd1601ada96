{#- Cancellation Rate = cancellations (any reason, any notice) / appointments that reached a final status. -#}
{{ metric_periods(
    metric_key='cancellation_rate',
    events="(select * from " ~ ref('fct_appointments') ~ " where is_final_status)",
    date_column='appointment_date',
    numerator='case when is_cancelled then 1 else 0 end',
    denominator='1',
    grains=['day', 'week', 'month'],
) }}
