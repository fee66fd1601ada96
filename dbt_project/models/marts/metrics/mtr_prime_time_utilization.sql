{#- Prime Time Utilization = booked slots starting in prime time (Monday-Thursday 9 AM - 5 PM local) /
    prime-time slots offered, for days up to today. -#}
{{ metric_periods(
    metric_key='prime_time_utilization',
    events="(select * from " ~ ref('int_clinician_days_available') ~ " where calendar_date <= " ~ as_of_date() ~ ")",
    date_column='calendar_date',
    numerator='booked_prime_slots',
    denominator='available_prime_slots',
) }}
