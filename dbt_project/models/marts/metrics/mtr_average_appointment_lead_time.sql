{#- Average Appointment Lead Time = sum of days from the practice-local booking date to the appointment date
    / appointments, by appointment date up to today (a rescheduled original is excluded: its replacement
    carries its own booking date). -#}
{{ metric_periods(
    metric_key='average_appointment_lead_time',
    events="(select * from " ~ ref('fct_appointments') ~ " where appointment_status <> 'RESCHEDULED' and lead_time_days >= 0 and appointment_date <= " ~ as_of_date() ~ ")",
    date_column='appointment_date',
    numerator='lead_time_days',
    denominator='1',
    value='ratio',
) }}
