with

source as (
    select * from {{ source('operational', 'clinical_notes') }}
),

renamed as (
    select
        id as note_id,
        client_id,
        clinician_id,
        -- A note documents a store appointment, or (AdvancedMD as the scheduling record, no store appointment for
        -- the session) the AdvancedMD visit it names, under the id that visit has among the appointments of record.
        coalesce(appointment_id, {{ advancedmd_appointment_id('advancedmd_visit_id') }}) as appointment_id,
        advancedmd_visit_id,
        signed_by as signed_by_user_id,
        cosigned_by as cosigned_by_user_id,
        -- No note text: `content` is PHI and never lands; diagnosis codes are not needed by any measure.
        upper(trim(note_type)) as note_type,
        upper(trim(status)) as note_status,
        requires_cosign as is_cosign_required,
        cast({{ to_local('created_at') }} as date) as created_date,
        cast({{ to_local('signed_at') }} as date) as signed_date,
        signed_at,
        cosigned_at,
        created_at,
        updated_at
    from source
)

select * from renamed
