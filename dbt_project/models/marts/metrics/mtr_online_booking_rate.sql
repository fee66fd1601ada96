{#- Online Appointment Booking Rate = appointments booked online / appointments booked, by the
    practice-local booking date (every booking counts, including reschedules). -#}
{{ metric_periods(
    metric_key='online_booking_rate',
    events="(select * from " ~ ref('fct_appointments') ~ " where booked_date <= " ~ as_of_date() ~ ")",
    date_column='booked_date',
    numerator='case when is_booked_online then 1 else 0 end',
    denominator='1',
) }}
