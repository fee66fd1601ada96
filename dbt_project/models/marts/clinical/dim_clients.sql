{#- The client's clinician for measures is the primary clinician, else whoever saw the client last, so a
    client seen by several clinicians counts once for the practice. -#}
with

clients as (
    select * from {{ ref('stg_operational__clients') }}
),

appointments as (
    select * from {{ ref('fct_appointments') }}
),

policies as (
    select * from {{ ref('stg_operational__insurance_policies') }}
),

visits as (
    select
        client_id,
        clinician_id,
        appointment_date,
        row_number() over (partition by client_id order by start_at desc, appointment_id desc) as recency_rank
    from appointments
    where appointment_status = 'COMPLETED'
),

visit_summary as (
    select
        client_id,
        min(appointment_date) as first_visit_date,
        max(appointment_date) as last_visit_date,
        max(case when recency_rank = 1 then clinician_id end) as last_clinician_id
    from visits
    group by 1
),

policy_summary as (
    select
        client_id,
        max(case when has_member_id then 1 else 0 end) = 1 as has_member_id
    from policies
    group by 1
),

final as (
    select
        clients.client_id,
        coalesce(clients.primary_clinician_id, visit_summary.last_clinician_id) as clinician_id,
        clients.primary_clinician_id,
        clients.display_name,
        clients.client_status,
        clients.is_high_risk,
        clients.has_suicidal_ideation,
        clients.is_high_risk or clients.has_suicidal_ideation as needs_safety_plan,
        clients.is_emancipated,
        clients.is_self_pay,
        clients.has_portal_access,
        clients.has_date_of_birth,
        clients.age_band,
        policy_summary.client_id is not null as has_insurance_policy,
        -- PRD required fields: name, DOB, address, phone, emergency contact, insurance (or self-pay).
        clients.display_name is not null
            and clients.has_date_of_birth
            and clients.has_address
            and clients.has_city
            and clients.has_zip_code
            and clients.has_phone
            and clients.has_emergency_contact
            and (clients.is_self_pay or coalesce(policy_summary.has_member_id, false))
            as has_complete_demographics,
        clients.intake_date,
        visit_summary.first_visit_date,
        visit_summary.last_visit_date,
        clients.discharged_date,
        clients.portal_activated_date
    from clients
    left join visit_summary on clients.client_id = visit_summary.client_id
    left join policy_summary on clients.client_id = policy_summary.client_id
)

select * from final
