{#- Breach Incident Response Time = sum of hours from detection to first response / incidents responded to,
    by practice-local detection date; practice-wide only. -#}
with

incidents as (
    select * from {{ ref('stg_operational__breach_incidents') }}
    where responded_at is not null and responded_at >= detected_at
),

metric_events as (
    select
        breach_incident_id,
        cast(null as bigint) as clinician_id,
        detected_date,
        round(cast({{ dbt.datediff('detected_at', 'responded_at', 'minute') }} as numeric(18, 4)) / 60, 4) as response_hours
    from incidents
),

{{ metric_from_events(
    'breach_incident_response_time', 'metric_events', 'detected_date', 'response_hours', '1',
    value='ratio', scopes=['practice']
) }}
