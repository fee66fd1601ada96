{#- Signature timing only: the note text never reaches the warehouse.
    Rebuilt by key in a refresh (macros/fact_keys.sql): a note whose row or session changed, and the other notes
    of a session one of whose notes changed (which note is the session's own depends on them all); every note
    when the signature rules changed. -#}
{{ config(materialized='incremental', incremental_strategy='by_key', unique_key='note_id') }}
-- depends_on: {{ ref('stg_operational__clinical_notes') }}
{%- set by_key = facts_by_key() %}

with

{% if by_key -%}
    rebuilt as (  -- noqa: ST03
        {{ changed_keys('clinical_notes', 'id') }}
        union
        select notes.note_id as key_value
        from {{ ref('stg_operational__clinical_notes') }} as notes
        where
            notes.appointment_id in ({{ changed_keys('appointments', 'id') }})
            or notes.appointment_id in ({{ changed_keys('clinical_notes', 'appointment_id') }})
            or exists ({{ changed_keys('compliance_rules', 'id') }})
    ),

{% endif -%}
notes as (
    select * from {{ ref('int_notes_joined_to_appointments') }}
    {%- if by_key %}
        where note_id in (select rebuilt.key_value from rebuilt)
    {%- endif %}
),

final as (
    select
        note_id,
        client_id,
        clinician_id,
        appointment_id,
        note_type,
        note_status,
        days_to_sign,
        documentation_hours,
        is_signed,
        is_crisis_note,
        is_session_note,
        is_signed_same_day,
        is_signed_within_deadline,
        service_date,
        signature_due_date,
        signed_date,
        session_end_at,
        signed_at
    from notes
)

{% if by_key -%}
    {{ rebuilt_rows('note_id') }}
{%- else -%}
    select * from final
{%- endif %}
