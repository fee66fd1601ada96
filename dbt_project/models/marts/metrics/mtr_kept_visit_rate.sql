{#- Kept Visit Rate = completed / appointments that reached a final status (see the metric dictionary). -#}
{{ metric_periods(
    metric_key='kept_visit_rate',
    events="(select * from " ~ ref('fct_appointments') ~ " where is_final_status)",
    date_column='appointment_date',
    numerator='case when is_kept then 1 else 0 end',
    denominator='1',
    grains=['day', 'week', 'month'],
) }}
