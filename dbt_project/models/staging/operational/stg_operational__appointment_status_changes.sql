with

source as (
    select * from {{ source('operational', 'appointment_status_history') }}
),

renamed as (
    select
        id as appointment_status_change_id,
        appointment_id,
        changed_by as changed_by_user_id,
        upper(trim(status)) as appointment_status,
        changed_at
    from source
)

select * from renamed
