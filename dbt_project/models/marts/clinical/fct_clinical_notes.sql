{#- Signature timing only: the note text never reaches the warehouse.
    Rebuilt by key in a refresh (macros/fact_keys.sql): a note whose row or session changed, and the other notes
    of a session one of whose notes changed (which note is the session's own depends on them all); every note
    when the signature rules changed. -#}
{{ config(materialized='incremental', incremental_strategy='by_key', unique_key='note_id') }}
{% set rebuilt %}
    {{ changed_keys('clinical_notes', 'id') }}
    {{ rows_referring(ref('stg_operational__clinical_notes'), 'note_id', [
        ('appointment_id', 'appointments', 'id'),
        ('appointment_id', 'clinical_notes', 'appointment_id'),
    ], every_row_when=['compliance_rules']) }}
{% endset %}

with

notes as (
    {#- Ranked among the notes rebuilt only: they hold every note of their sessions (the keys above). -#}
    {{ notes_joined_to_appointments(rebuilt_only('note_id', rebuilt)) }}
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

{{ rebuilt_rows('note_id', rebuilt) }}
