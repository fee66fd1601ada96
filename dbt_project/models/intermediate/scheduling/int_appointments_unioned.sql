{#- Appointments as each system records them: the operational store's, and AdvancedMD's visits as
    int_advancedmd_visits_linked has them (status in our vocabulary, patient and provider linked, telehealth from
    the facility). Not deduplicated across systems: the same session booked in both appears twice, once per
    `source_system`. -#}
with

operational_appointments as (
    select * from {{ ref('stg_operational__appointments') }}
),

advancedmd_visits as (
    -- Status mapping, patient and provider links have one home: the linked model (deleted visits already out).
    select * from {{ ref('int_advancedmd_visits_linked') }}
),

from_operational as (
    select
        'operational:' || cast(appointment_id as varchar) as appointment_key,
        cast(appointment_id as bigint) as source_appointment_id,
        client_id,
        clinician_id,
        cast(null as bigint) as advancedmd_patient_id,
        'operational' as source_system,
        appointment_status,
        appointment_status as source_status,
        appointment_type,
        cast(null as varchar) as provider_code,
        cast({{ dbt.datediff('start_at', 'end_at', 'minute') }} as integer) as duration_minutes,
        is_telehealth,
        appointment_date,
        start_at,
        start_local_at
    from operational_appointments
),

from_advancedmd as (
    select
        'advancedmd:' || office_key || ':' || cast(advancedmd_visit_id as varchar) as appointment_key,
        advancedmd_visit_id as source_appointment_id,
        client_id,
        -- The visit's provider profile linked to our clinician (NPI, else an administrator's link); null while
        -- the profile is UNMATCHED (a data-quality alert asks for the link).
        linked_clinician_id as clinician_id,
        advancedmd_patient_id,
        'advancedmd' as source_system,
        appointment_status,
        cast(appt_status_code as varchar) as source_status,
        advancedmd_appointment_type as appointment_type,
        provider_code,
        duration_minutes,
        is_telehealth,
        visit_date as appointment_date,
        start_at,
        start_local_at
    from advancedmd_visits
),

final as (
    select * from from_operational
    union all
    select * from from_advancedmd
)

select * from final
