{#- Supervision Hours Logged = supervision hours of supervisees by session date; the denominator is the hours
    required. Supervisees, requirement and hours live in int_supervision_hours_by_period (the supervision-hours
    alert reads the same rows), so every supervisee has a row in every period, 0 of the required hours when
    nothing was logged. -#}
with

hours as (
    select * from {{ ref('int_supervision_hours_by_period') }}
    where {{ metric_window_from('period_start') }}
),

metric_parts as (
    select
        period_grain,
        period_start,
        clinician_id,
        logged_hours as numerator_part,
        required_hours as denominator_part
    from hours
),

{{ metric_rollup('supervision_hours_logged', 'metric_parts', value='numerator') }}
