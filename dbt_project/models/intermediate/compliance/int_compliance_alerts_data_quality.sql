{#- One row per open data-quality condition (PRD "Data Quality Governance"). -#}
with

appointments as (select * from {{ ref('stg_operational__appointments') }}),

notes as (select * from {{ ref('stg_operational__clinical_notes') }}),

charges as (select * from {{ ref('stg_operational__charges') }}),

clients as (select * from {{ ref('stg_operational__clients') }}),

verifications as (select * from {{ ref('stg_operational__insurance_verifications') }}),

client_demographics as (select * from {{ ref('dim_clients') }}),

advancedmd_patient_links as (select * from {{ ref('stg_operational__advancedmd_patients') }}),

advancedmd_provider_links as (select * from {{ ref('stg_operational__advancedmd_provider_links') }}),

advancedmd_visits as (select * from {{ ref('int_advancedmd_visits_linked') }}),

params as (
    select
        {{ rule_value('APPOINTMENT_STATUS', 'stale_after_hours') }} as stale_after_hours,
        {{ as_of_at() }} as as_of_at,
        {{ as_of_date() }} as as_of_date
),

stale_appointments as (
    select
        'APPOINTMENT_STATUS_NOT_UPDATED' as alert_type,
        'WARNING' as severity,
        a.clinician_id as target_user_id,
        'FRONT_DESK' as target_role,
        false as is_supervisor_escalated,
        false as is_admin_escalated,
        'appointment' as entity_type,
        a.appointment_id as entity_id,
        'Appointment #' || cast(a.appointment_id as varchar) || ' on ' || cast(a.appointment_date as varchar)
        || ' is still ' || a.appointment_status || ' more than 24 hours after its time' as message,
        'Mark the appointment Completed, No-Show or Cancelled' as action_required,
        a.appointment_date as due_date
    from appointments as a
    cross join params as p
    where a.appointment_status in ('SCHEDULED', 'CONFIRMED', 'CHECKED_IN')
        and a.start_at < p.as_of_at - cast(p.stale_after_hours as integer) * interval '1 hour'
),

notes_without_appointment as (
    select
        'NOTE_WITHOUT_APPOINTMENT' as alert_type,
        'INFO' as severity,
        n.clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        false as is_supervisor_escalated,
        false as is_admin_escalated,
        'clinical_note' as entity_type,
        n.note_id as entity_id,
        'Note #' || cast(n.note_id as varchar) || ' is not linked to an appointment' as message,
        'Link the note to the session it documents' as action_required,
        n.created_date as due_date
    from notes as n
    where n.appointment_id is null
),

charges_without_links as (
    select
        'CHARGE_WITHOUT_APPOINTMENT_OR_NOTE' as alert_type,
        'WARNING' as severity,
        c.clinician_id as target_user_id,
        'BILLING' as target_role,
        false as is_supervisor_escalated,
        false as is_admin_escalated,
        'charge' as entity_type,
        c.charge_id as entity_id,
        'Charge #' || cast(c.charge_id as varchar) || ' (' || c.cpt_code || ' on ' || cast(c.service_date as varchar) || ') has '
        || case when c.appointment_id is null then 'no appointment' else 'no clinical note' end as message,
        'Link the charge to its appointment and note, or void it' as action_required,
        c.service_date as due_date
    from charges as c
    -- A no-show fee has an appointment but, rightly, no note.
    where c.charge_status <> 'VOID'
        and (c.appointment_id is null or (c.note_id is null and c.cpt_code <> 'NOSHOW'))
),

verified_policies as (
    select
        insurance_policy_id,
        client_id,
        verified_at,
        expires_at
    from verifications
    where verification_status = 'VERIFIED'
),

upcoming as (
    select a.*
    from appointments as a
    cross join params as p
    where a.appointment_status in ('SCHEDULED', 'CONFIRMED')
        and a.start_at >= p.as_of_at
        and a.appointment_date <= p.as_of_date + 7
),

unverified_upcoming as (
    select
        'APPOINTMENT_INSURANCE_NOT_VERIFIED' as alert_type,
        'WARNING' as severity,
        u.clinician_id as target_user_id,
        'FRONT_DESK' as target_role,
        false as is_supervisor_escalated,
        false as is_admin_escalated,
        'appointment' as entity_type,
        u.appointment_id as entity_id,
        'Appointment #' || cast(u.appointment_id as varchar) || ' on ' || cast(u.appointment_date as varchar)
        || ' has no verified insurance and the client is not self-pay' as message,
        'Verify the insurance before the visit, or mark the client Self-Pay' as action_required,
        u.appointment_date as due_date
    from upcoming as u
    inner join clients as c on u.client_id = c.client_id
    where not c.is_self_pay
        and not exists (
            select 1
            from verified_policies as v
            where v.client_id = u.client_id
                and v.verified_at <= u.start_at
                and (v.expires_at is null or v.expires_at >= u.start_at)
        )
),

completed_with_gaps as (
    -- The client's missing fields come from dim_clients, the same definition the complete-demographics
    -- measures count (PRD data-quality rule 4: required fields complete before a session is completed).
    select
        'COMPLETED_WITH_INCOMPLETE_DEMOGRAPHICS' as alert_type,
        'WARNING' as severity,
        dc.primary_clinician_id as target_user_id,
        'FRONT_DESK' as target_role,
        false as is_supervisor_escalated,
        false as is_admin_escalated,
        'client' as entity_type,
        dc.client_id as entity_id,
        'Client #' || cast(dc.client_id as varchar) || ' had a completed session but is missing: '
        || dc.missing_demographic_fields as message,
        'Complete the demographics at the next check-in' as action_required,
        max(a.appointment_date) as due_date
    from client_demographics as dc
    inner join appointments as a on dc.client_id = a.client_id and a.appointment_status = 'COMPLETED'
    where not dc.has_complete_demographics
    group by dc.client_id, dc.primary_clinician_id, dc.missing_demographic_fields
),

advancedmd_unlinked as (
    -- AdvancedMD records with no counterpart in the store are reported, never dropped silently: their visits
    -- and charges cannot reach a client's or a clinician's measures until someone links them.
    select
        'ADVANCEDMD_PATIENT_NOT_LINKED' as alert_type,
        'WARNING' as severity,
        cast(null as integer) as target_user_id,
        'FRONT_DESK' as target_role,
        false as is_supervisor_escalated,
        false as is_admin_escalated,
        'advancedmd_patient' as entity_type,
        advancedmd_patient_link_id as entity_id,
        'AdvancedMD patient #' || cast(advancedmd_patient_id as varchar) || ' (office ' || office_key
        || ') is not linked to a client: ' || coalesce(sync_error, 'no matching chart number') as message,
        'Set the chart number to MS + the client id in AdvancedMD, or link the patient by hand' as action_required,
        cast(updated_at as date) as due_date
    from advancedmd_patient_links
    where sync_status = 'UNMATCHED'
    union all
    select
        'ADVANCEDMD_PROVIDER_NOT_LINKED' as alert_type,
        'WARNING' as severity,
        cast(null as integer) as target_user_id,
        'BILLING' as target_role,
        false as is_supervisor_escalated,
        true as is_admin_escalated,
        'advancedmd_provider' as entity_type,
        advancedmd_provider_link_id as entity_id,
        'AdvancedMD provider profile ' || provider_code || ' (office ' || office_key
        || ') is not linked to a clinician' as message,
        'Record the clinician''s NPI, or run: mentalspace amd link-provider ' || provider_code
        || ' --clinician ID' as action_required,
        cast(updated_at as date) as due_date
    from advancedmd_provider_links
    where sync_status = 'UNMATCHED'
),

advancedmd_days as (
    select
        min(visit_date) as first_date,
        max(visit_date) as last_date
    from advancedmd_visits
),

store_appointments_not_in_advancedmd as (
    -- With AdvancedMD as the scheduling record, a store appointment it does not hold (on a day its visits cover)
    -- is out of the counts: said here, never silently. Moved originals stay counted (int_appointments_of_record).
    select
        'APPOINTMENT_NOT_IN_ADVANCEDMD' as alert_type,
        'WARNING' as severity,
        a.clinician_id as target_user_id,
        'FRONT_DESK' as target_role,
        false as is_supervisor_escalated,
        false as is_admin_escalated,
        'appointment' as entity_type,
        a.appointment_id as entity_id,
        'Appointment #' || cast(a.appointment_id as varchar) || ' on ' || cast(a.appointment_date as varchar)
        || ' is in the store but not in AdvancedMD, the scheduling record, so no measure counts it' as message,
        'Book it in AdvancedMD (same client and start), or cancel it in the store' as action_required,
        a.appointment_date as due_date
    from appointments as a
    cross join advancedmd_days as d
    where {{ 'true' if system_of_record('scheduling') == 'advancedmd' else 'false' }}
        and a.appointment_status <> 'RESCHEDULED'
        and a.appointment_date between d.first_date and d.last_date
        and not exists (
            select 1 from advancedmd_visits as v
            where v.store_appointment_id = a.appointment_id
        )
),

unioned as (
    select * from stale_appointments
    union all
    select * from notes_without_appointment
    union all
    select * from charges_without_links
    union all
    select * from unverified_upcoming
    union all
    select * from completed_with_gaps
    union all
    select * from advancedmd_unlinked
    union all
    select * from store_appointments_not_in_advancedmd
),

final as (
    select
        lower(alert_type) || ':' || entity_type || ':' || cast(entity_id as varchar) as alert_key,
        'DATA_QUALITY' as rule_source,
        *
    from unioned
)

select * from final
