{#- Unsigned Note Backlog = notes still unsigned at the end of the period's as-of date and past their
    signature deadline (NOTE_SIGNATURE.supervisor_alert_day days after the service date; a note signed on
    the deadline day is on time). The denominator is every note unsigned on that date (pending signature).
    Every active clinician gets a row, so a clean backlog reads 0 rather than missing. -#}
with

periods as (
    select * from {{ ref('int_periods_enumerated') }}
    where period_grain in ('week', 'month') and {{ metric_window_from('period_start') }}
),

notes as (
    select * from {{ ref('fct_clinical_notes') }}
    -- Notes signed on their service day are never pending at a day's end.
    where signed_date is null or signed_date > service_date
),

clinicians as (
    select * from {{ ref('dim_clinicians') }}
),

pending as (
    select
        periods.period_grain,
        periods.period_start,
        notes.clinician_id,
        case when notes.signature_due_date < periods.as_of_date then 1 else 0 end as numerator_part,
        1 as denominator_part
    from periods
    inner join notes
        on notes.service_date <= periods.as_of_date
        and (notes.signed_date is null or notes.signed_date > periods.as_of_date)
),

zero_rows as (
    select
        periods.period_grain,
        periods.period_start,
        clinicians.clinician_id,
        0 as numerator_part,
        0 as denominator_part
    from periods
    cross join clinicians
    where clinicians.is_active
        and (clinicians.hired_date is null or clinicians.hired_date <= periods.as_of_date)
),

metric_parts as (
    select * from pending
    union all
    select * from zero_rows
),

{{ metric_rollup('unsigned_note_backlog', 'metric_parts', value='numerator') }}
