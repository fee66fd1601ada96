{#- Schedule Fill Rate = booked slots (appointments that held their slot: not cancelled, not a rescheduled
    original) / slots offered by the availability template, for practice-local days up to today. -#}
{{ metric_periods(
    metric_key='schedule_fill_rate',
    events="(select * from " ~ ref('int_clinician_days_available') ~ " where calendar_date <= " ~ as_of_date() ~ ")",
    date_column='calendar_date',
    numerator='booked_slots',
    denominator='available_slots',
    grains=['day', 'week', 'month'],
) }}
