{#- One row per clinical note with its session: macros/clinical_notes.sql (one home, shared with
    fct_clinical_notes, which ranks only the notes it rebuilds). -#}
{{ notes_joined_to_appointments() }}
