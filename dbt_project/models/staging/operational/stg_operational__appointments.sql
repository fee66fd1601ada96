with

source as (
    select * from {{ source('operational', 'appointments') }}
),

renamed as (
    select
        id as appointment_id,
        client_id,
        clinician_id,
        rescheduled_from_id as rescheduled_from_appointment_id,
        upper(trim(appointment_type)) as appointment_type,
        upper(trim(status)) as appointment_status,
        upper(trim(cancellation_reason)) as cancellation_reason,
        recurrence_rule,
        is_telehealth,
        is_booked_online,
        is_recurring,
        -- Computed in the store from the date of birth, which stays there; null when it is unknown.
        is_minor_on_date,
        cast({{ to_local('start_at') }} as date) as appointment_date,
        cast({{ to_local('booked_at') }} as date) as booked_date,
        start_at,
        end_at,
        {{ to_local('start_at') }} as start_local_at,
        booked_at,
        arrived_at,
        clinician_ready_at,
        status_changed_at,
        created_at,
        updated_at
    from source
)

select * from renamed
