{#- Average Documentation Time = sum of hours from session end to signature / session notes signed, by the
    practice-local signing day (a period's figure is final once it ends). Unsigned notes are not averaged;
    they show in the unsigned note backlog. -#}
with

signed_session_notes as (
    select * from {{ ref('fct_clinical_notes') }}
    where is_session_note and documentation_hours is not null
),

{{ metric_from_events(
    'average_documentation_time', 'signed_session_notes', 'signed_date', 'documentation_hours', '1',
    value='ratio', grains=['day', 'week', 'month']
) }}
