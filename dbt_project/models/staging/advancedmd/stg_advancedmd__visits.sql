with

source as (
    select * from {{ source('advancedmd', 'visits') }}
),

renamed as (
    select
        visit_id as advancedmd_visit_id,
        patient_id as advancedmd_patient_id,
        office_key,
        upper(trim(appointment_type)) as appointment_type,
        upper(trim(column_heading)) as column_heading,
        upper(trim(provider_code)) as provider_code,
        upper(trim(facility_code)) as facility_code,
        batch_id,
        -- AdvancedMD ApptStatus: 0 made, 1 arrived, 2 other, 3 seen, 5 moved, 10 cancelled, 11 deleted, 12 no-show
        -- (terminology__advancedmd_appointment_statuses maps them to our vocabulary).
        appt_status as appt_status_code,
        duration_minutes,
        charges_posted as has_charges_posted,
        visit_date,
        -- AdvancedMD keeps the start as practice-local wall-clock time; the warehouse's *_at are UTC.
        {{ from_local('start_local') }} as start_at,
        start_local as start_local_at,
        -- ArriveTime / SeenTime: the front desk's check-in and the clinician taking the client in, practice-local
        -- wall clock as the start.
        {{ from_local('arrive_local') }} as arrived_at,
        {{ from_local('seen_local') }} as seen_at,
        confirmed_at,
        -- The AdvancedMD user (login) who entered the visit.
        upper(trim(created_by)) as created_by,
        -- Derived at landing from the patient's date of birth (which never lands) by the store's MINOR_CONSENT
        -- rule; null when AdvancedMD has no date of birth or the rule was not given to the landing.
        client_is_minor_on_visit_date as is_minor_on_date,
        created_at,
        modified_at,
        landed_at
    from source
)

select * from renamed
