{#- HIPAA Training Current = active staff with a current HIPAA training / active staff, as of each period's end;
    practice-wide only. Staff and "current" live in int_staff_hipaa_training_by_period (the HIPAA training alerts
    read the same rows). -#}
with

training_status as (
    select * from {{ ref('int_staff_hipaa_training_by_period') }}
    where {{ metric_window_from('period_start') }}
),

metric_parts as (
    select
        period_grain,
        period_start,
        cast(null as bigint) as clinician_id,
        case when has_current_training then 1 else 0 end as numerator_part,
        1 as denominator_part
    from training_status
),

{{ metric_rollup('hipaa_training_current', 'metric_parts', scopes=['practice']) }}
