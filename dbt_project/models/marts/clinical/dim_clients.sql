{#- The client's clinician for measures is the primary clinician, else whoever saw the client last, so a
    client seen by several clinicians counts once for the practice.
    missing_demographic_fields is the one definition of complete demographics: the complete-demographics
    measures and the COMPLETED_WITH_INCOMPLETE_DEMOGRAPHICS alert all read it. -#}
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

demographic_gaps as (
    -- PRD required fields (Data Quality): name, DOB, address, phone, emergency contact, insurance. An address
    -- is billable only with its city and ZIP, and insurance only with a member id; a self-pay client needs none.
    select
        clients.client_id,
        nullif(rtrim(
            case when nullif(trim(clients.display_name), '') is null then 'name, ' else '' end
            || case when not coalesce(clients.has_date_of_birth, false) then 'date of birth, ' else '' end
            || case when not coalesce(clients.has_address, false) then 'street address, ' else '' end
            || case when not coalesce(clients.has_city, false) then 'city, ' else '' end
            || case when not coalesce(clients.has_zip_code, false) then 'ZIP code, ' else '' end
            || case when not coalesce(clients.has_phone, false) then 'phone, ' else '' end
            || case when not coalesce(clients.has_emergency_contact, false) then 'emergency contact, ' else '' end
            || case
                when coalesce(clients.is_self_pay, false) then ''
                when policy_summary.client_id is null then 'insurance, '
                when not policy_summary.has_member_id then 'insurance member id, '
                else ''
            end,
            ', '
        ), '') as missing_demographic_fields
    from clients
    left join policy_summary on clients.client_id = policy_summary.client_id
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
        clients.gender,
        clients.zip3,
        policy_summary.client_id is not null as has_insurance_policy,
        demographic_gaps.missing_demographic_fields is null as has_complete_demographics,
        demographic_gaps.missing_demographic_fields,
        clients.intake_date,
        -- On the practice's books from intake, or from the record's creation when intake is not recorded.
        coalesce(clients.intake_date, cast({{ to_local('clients.created_at') }} as date)) as registered_date,
        visit_summary.first_visit_date,
        visit_summary.last_visit_date,
        clients.discharged_date,
        clients.portal_activated_date
    from clients
    left join visit_summary on clients.client_id = visit_summary.client_id
    left join policy_summary on clients.client_id = policy_summary.client_id
    left join demographic_gaps on clients.client_id = demographic_gaps.client_id
)

select * from final
