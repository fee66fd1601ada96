with

appointments as (
    select * from {{ ref('stg_operational__appointments') }}
),

final as (
    select
        appointment_id,
        client_id,
        clinician_id,
        rescheduled_from_appointment_id,
        appointment_type,
        appointment_status,
        cancellation_reason,
        -- Final = the visit's outcome is known. A RESCHEDULED original is not an outcome: its
        -- replacement appointment carries the outcome, so counting both would count one visit twice.
        appointment_status in ('COMPLETED', 'NO_SHOW', 'CANCELLED') as is_final_status,
        appointment_status = 'COMPLETED' as is_kept,
        is_telehealth,
        is_booked_online,
        is_recurring,
        appointment_date,
        {{ week_start('appointment_date') }} as appointment_week_start,
        {{ month_start('appointment_date') }} as appointment_month_start,
        start_at,
        end_at,
        start_local_at,
        booked_at,
        arrived_at,
        clinician_ready_at,
        status_changed_at
    from appointments
)

select * from final
