{#- AdvancedMD visits tied to our world: the client (patient link), the clinician (provider link), the status
    and type in our vocabulary, and the store appointment holding the same session. A session is keyed by
    (client, start): the n-th visit of a client at one start instant pairs with the n-th store appointment of
    that client at that instant (both in creation order), so a cancelled-and-rebooked slot pairs one to one.
    Visits AdvancedMD marks deleted (11) are not appointments and are left out; unlinked visits stay, with an
    empty client or clinician (ADVANCEDMD_*_NOT_LINKED alerts ask for the link). AdvancedMD has no telehealth
    or booked-online flag: a visit at a telehealth facility (var advancedmd_telehealth_facility_codes) is
    telehealth, one entered by the client portal's AdvancedMD user (var advancedmd_online_booking_users) was
    booked online. -#}
with

visits as (
    select * from {{ ref('stg_advancedmd__visits') }}
),

patient_links as (
    select * from {{ ref('stg_operational__advancedmd_patients') }}
),

provider_links as (
    select * from {{ ref('stg_operational__advancedmd_provider_links') }}
    where sync_status = 'LINKED'
),

statuses as (
    select * from {{ ref('terminology__advancedmd_appointment_statuses') }}
),

types as (
    select * from {{ ref('terminology__advancedmd_appointment_types') }}
),

store_appointments as (
    select
        appointment_id,
        client_id,
        start_at,
        row_number() over (partition by client_id, start_at order by appointment_id) as session_rank
    from {{ ref('stg_operational__appointments') }}
),

linked as (
    select
        visits.office_key,
        visits.advancedmd_visit_id,
        visits.advancedmd_patient_id,
        patient_links.client_id,
        cast(provider_links.clinician_id as integer) as linked_clinician_id,
        visits.provider_code,
        statuses.appointment_status,
        visits.appt_status_code,
        types.appointment_type as mapped_appointment_type,
        visits.appointment_type as advancedmd_appointment_type,
        visits.facility_code,
        visits.duration_minutes,
        visits.has_charges_posted,
        {{ in_var_list('visits.facility_code', 'advancedmd_telehealth_facility_codes') }} as is_telehealth,
        {{ in_var_list('visits.created_by', 'advancedmd_online_booking_users') }} as is_booked_online,
        visits.visit_date,
        visits.start_at,
        visits.start_local_at,
        visits.arrived_at,
        visits.seen_at,
        visits.confirmed_at,
        visits.created_by,
        visits.is_minor_on_date,
        visits.created_at,
        visits.modified_at,
        row_number() over (
            partition by patient_links.client_id, visits.start_at
            order by visits.office_key, visits.advancedmd_visit_id
        ) as session_rank
    from visits
    left join statuses
        on visits.appt_status_code = statuses.appt_status_code
    left join types
        on visits.appointment_type = types.advancedmd_appointment_type
    left join patient_links
        on visits.office_key = patient_links.office_key
        and visits.advancedmd_patient_id = patient_links.advancedmd_patient_id
    left join provider_links
        on visits.office_key = provider_links.office_key
        and visits.provider_code = provider_links.provider_code
    where coalesce(statuses.is_appointment, true)
),

final as (
    select
        linked.*,
        store_appointments.appointment_id as store_appointment_id
    from linked
    left join store_appointments
        on linked.client_id = store_appointments.client_id
        and linked.start_at = store_appointments.start_at
        and linked.session_rank = store_appointments.session_rank
)

select * from final
