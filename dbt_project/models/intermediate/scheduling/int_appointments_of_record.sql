{#- The practice's appointments as the system of record for scheduling holds them (system_of_record), in the
    columns of stg_operational__appointments, so fct_appointments and everything after it read one shape.

    store: the store's appointments.
    advancedmd: one row per AdvancedMD visit (int_advancedmd_visits_linked). AdvancedMD's row wins for what it
    holds: client (patient link), start, duration, date, status, confirmation (0 Made with a ConfirmedAt is our
    CONFIRMED), type, clinician (provider link), booking time (CreatedAt), arrival (ArriveTime), the clinician
    taking the client in (SeenTime), telehealth (facility) and online booking (entered by the portal's user).
    The store appointment of the same session (client, start), where there is one, fills what AdvancedMD does
    not hold: recurrence, the moved-from link, the cancellation reason and status time while both systems agree
    on the status, and the minor flag when AdvancedMD has no date of birth for the patient (its flag, derived
    at landing from AdvancedMD's date of birth, wins otherwise). The row keeps the store's
    appointment id, so notes and charges still join; a visit with no store counterpart gets the negative
    visit id (never a store id), which is also how a note names an AdvancedMD visit
    (stg_operational__clinical_notes). Store appointments with no visit are not the record's and are left out,
    except moved originals while AdvancedMD has no visit for them (its date read never returns 5 Moved).
-#}
{% if system_of_record('scheduling') == 'advancedmd' %}
    with

    visits as (
        select * from {{ ref('int_advancedmd_visits_linked') }}
    ),

    store as (
        select * from {{ ref('stg_operational__appointments') }}
    ),

    merged as (
        select
            coalesce(store.appointment_id, {{ advancedmd_appointment_id('visits.advancedmd_visit_id') }}) as appointment_id,
            visits.client_id,
            -- An unlinked provider profile (alerted) falls back to the store's clinician of the session.
            coalesce(visits.linked_clinician_id, store.clinician_id) as clinician_id,
            store.rescheduled_from_appointment_id,
            coalesce(visits.mapped_appointment_type, store.appointment_type, visits.advancedmd_appointment_type)
                as appointment_type,
            case
                when visits.appointment_status = 'SCHEDULED' and visits.confirmed_at is not null then 'CONFIRMED'
                else visits.appointment_status
            end as appointment_status,
            case when store.appointment_status = visits.appointment_status then store.cancellation_reason end
                as cancellation_reason,
            store.recurrence_rule,
            visits.is_telehealth,
            visits.is_booked_online,
            store.is_recurring,
            coalesce(visits.is_minor_on_date, store.is_minor_on_date) as is_minor_on_date,
            visits.visit_date as appointment_date,
            visits.start_at,
            visits.start_at + visits.duration_minutes * interval '1 minute' as end_at,
            visits.start_local_at,
            -- AdvancedMD's CreatedAt is when the visit was booked there: with AdvancedMD as the record, the booking.
            visits.created_at as booked_at,
            visits.arrived_at,
            visits.seen_at as clinician_ready_at,
            case when store.appointment_status = visits.appointment_status then store.status_changed_at end
                as store_status_changed_at,
            visits.modified_at,
            coalesce(store.created_at, visits.created_at) as created_at,
            greatest(coalesce(store.updated_at, visits.modified_at), visits.modified_at) as updated_at
        from visits
        left join store
            on visits.store_appointment_id = store.appointment_id
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
            recurrence_rule,
            is_telehealth,
            is_booked_online,
            is_recurring,
            is_minor_on_date,
            appointment_date,
            cast({{ to_local('booked_at') }} as date) as booked_date,
            start_at,
            end_at,
            start_local_at,
            booked_at,
            arrived_at,
            clinician_ready_at,
            coalesce(store_status_changed_at, modified_at) as status_changed_at,
            created_at,
            updated_at
        from merged
    )

    select * from final
    union all
    select store.*
    from store
    where store.appointment_status = 'RESCHEDULED'
        and not exists (
            select 1 from visits
            where visits.store_appointment_id = store.appointment_id
        )
{% else %}
    select * from {{ ref('stg_operational__appointments') }}
{% endif %}
