{#- Appointments as each system records them: the operational store's, and AdvancedMD's visits with their
    status in our vocabulary and their patient linked to our client. Not deduplicated across systems: the
    same session booked in both appears twice, once per `source_system`. -#}
with

operational_appointments as (
    select * from {{ ref('stg_operational__appointments') }}
),

advancedmd_visits as (
    select * from {{ ref('stg_advancedmd__visits') }}
),

patient_links as (
    select * from {{ ref('stg_operational__advancedmd_patients') }}
),

provider_links as (
    select * from {{ ref('stg_operational__advancedmd_provider_links') }}
    where sync_status = 'LINKED'
),

advancedmd_statuses as (
    select * from {{ ref('terminology__advancedmd_appointment_statuses') }}
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
        'advancedmd:' || visits.office_key || ':' || cast(visits.advancedmd_visit_id as varchar) as appointment_key,
        visits.advancedmd_visit_id as source_appointment_id,
        patient_links.client_id,
        -- The visit's provider profile linked to our clinician (NPI, else an administrator's link); null while
        -- the profile is UNMATCHED (a data-quality alert asks for the link).
        cast(provider_links.clinician_id as integer) as clinician_id,
        visits.advancedmd_patient_id,
        'advancedmd' as source_system,
        statuses.appointment_status,
        cast(visits.appt_status_code as varchar) as source_status,
        visits.appointment_type,
        visits.provider_code,
        visits.duration_minutes,
        cast(null as boolean) as is_telehealth,
        visits.visit_date as appointment_date,
        visits.start_at,
        visits.start_local_at
    from advancedmd_visits as visits
    left join advancedmd_statuses as statuses
        on visits.appt_status_code = statuses.appt_status_code
    left join patient_links
        on visits.office_key = patient_links.office_key
        and visits.advancedmd_patient_id = patient_links.advancedmd_patient_id
    left join provider_links
        on visits.office_key = provider_links.office_key
        and upper(visits.provider_code) = provider_links.provider_code
    -- 11 = deleted (entered in error): not an appointment. Unknown codes stay, with no status (tested).
    where coalesce(statuses.is_appointment, true)
),

final as (
    select * from from_operational
    union all
    select * from from_advancedmd
)

select * from final
