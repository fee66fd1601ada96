{#- Claim Acceptance Rate = claims accepted for adjudication (not rejected) / claims with a response, by the
    practice-local submission date. Claims still awaiting a response are not yet counted. -#}
{{ metric_periods(
    metric_key='claim_acceptance_rate',
    events="(select * from " ~ ref('fct_claims') ~ " where has_response)",
    date_column='submitted_date',
    numerator='case when is_accepted then 1 else 0 end',
    denominator='1',
) }}
