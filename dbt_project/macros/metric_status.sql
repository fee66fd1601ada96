{#-
    The PRD's green / amber / red for one value of a measure, from its metric-dictionary row: GOOD at or past the
    benchmark, REVIEW between the benchmark and the alert threshold, URGENT past the alert threshold, UNKNOWN when
    there is no value or no bound. Computed once here; the dashboards and reports read the column.
    - '<' / '>': benchmark_value and alert_threshold, by direction;
    - 'outside' (ranges): benchmark_low..benchmark_high is GOOD, outside alert_low..alert_high is URGENT;
    - 'deviation_pct' (average reimbursement): more than alert_threshold % above or below the scope's own six-month
      benchmark (deviation_benchmark) is URGENT once the period has settled (alert_lag_days after its end, when the
      alert judges it too), REVIEW before;
    - 'below_required' (supervision hours): logged (numerator) under required (denominator) is URGENT in a finished
      period and REVIEW in the running one (there is still time).
    `m` is the metric row, `d` its dictionary row, `is_running` whether the period is still running, `is_settled`
    whether it ended at least the dictionary's alert_lag_days ago.
-#}
{% macro metric_rag_status(m='m', d='d', is_running='is_running', is_settled='is_settled') -%}
    case
        when {{ d }}.alert_operator = 'below_required' then
            case
                when {{ m }}.numerator is null or {{ m }}.denominator is null or {{ m }}.denominator <= 0 then 'UNKNOWN'
                when {{ m }}.numerator >= {{ m }}.denominator then 'GOOD'
                when {{ is_running }} then 'REVIEW'
                else 'URGENT'
            end
        when {{ m }}.metric_value is null then 'UNKNOWN'
        when {{ d }}.alert_operator = 'deviation_pct' then
            case
                when {{ m }}.deviation_benchmark is null or {{ m }}.deviation_benchmark = 0
                    or {{ d }}.alert_threshold is null then 'UNKNOWN'
                when abs({{ m }}.metric_value - {{ m }}.deviation_benchmark) * 100
                    <= {{ d }}.alert_threshold * abs({{ m }}.deviation_benchmark) then 'GOOD'
                when {{ is_settled }} then 'URGENT'
                else 'REVIEW'
            end
        when {{ d }}.direction = 'range' or {{ d }}.alert_operator = 'outside' then
            case
                when {{ d }}.benchmark_low is null or {{ d }}.benchmark_high is null then 'UNKNOWN'
                when {{ m }}.metric_value between {{ d }}.benchmark_low and {{ d }}.benchmark_high then 'GOOD'
                when {{ m }}.metric_value < {{ d }}.alert_low or {{ m }}.metric_value > {{ d }}.alert_high then 'URGENT'
                else 'REVIEW'
            end
        when {{ d }}.benchmark_value is null then 'UNKNOWN'
        when {{ d }}.direction = 'lower_is_better' then
            case
                when {{ m }}.metric_value <= {{ d }}.benchmark_value then 'GOOD'
                when {{ m }}.metric_value > {{ d }}.alert_threshold then 'URGENT'
                else 'REVIEW'
            end
        else
            case
                when {{ m }}.metric_value >= {{ d }}.benchmark_value then 'GOOD'
                when {{ m }}.metric_value < {{ d }}.alert_threshold then 'URGENT'
                else 'REVIEW'
            end
    end
{%- endmacro %}
