with

source as (
    select * from {{ source('operational', 'supervision_sessions') }}
),

renamed as (
    select
        id as supervision_session_id,
        supervisee_id,
        supervisor_id,
        upper(trim(session_type)) as session_type,
        cast(duration_hours as numeric(6, 2)) as duration_hours,
        is_note_signed,
        session_date,
        cast({{ to_local('signed_at') }} as date) as signed_date,
        signed_at
    from source
)

select * from renamed
