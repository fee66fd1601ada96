{#- AdvancedMD charge lines tied to our world: the session's store appointment (through the visit), the client
    and clinician of the visit, and the store charge recording the same line. A line is keyed by (session, CPT
    code, n-th line of that code on the visit, in creation order on both sides), which is how savecharges
    posts a store charge set on its visit. `charge_id` is the id the facts use: the store charge's, else the
    negative AdvancedMD charge id (never a store id); `appointment_id` likewise (int_appointments_of_record). -#}
with

charges as (
    select * from {{ ref('stg_advancedmd__charges') }}
),

visits as (
    select * from {{ ref('int_advancedmd_visits_linked') }}
),

patient_links as (
    select * from {{ ref('stg_operational__advancedmd_patients') }}
),

store_charges as (
    select
        charge_id,
        appointment_id,
        cpt_code,
        row_number() over (partition by appointment_id, cpt_code order by charge_id) as line_rank
    from {{ ref('stg_operational__charges') }}
    where appointment_id is not null
),

linked as (
    select
        charges.*,
        patient_links.client_id,
        visits.linked_clinician_id,
        visits.store_appointment_id,
        coalesce(visits.store_appointment_id, {{ advancedmd_appointment_id('charges.advancedmd_visit_id') }}) as appointment_id,
        row_number() over (
            partition by charges.office_key, charges.advancedmd_visit_id, charges.cpt_code
            order by charges.advancedmd_charge_id
        ) as line_rank
    from charges
    left join visits
        on charges.office_key = visits.office_key
        and charges.advancedmd_visit_id = visits.advancedmd_visit_id
    left join patient_links
        on charges.office_key = patient_links.office_key
        and charges.advancedmd_patient_id = patient_links.advancedmd_patient_id
),

final as (
    select
        coalesce(store_charges.charge_id, -linked.advancedmd_charge_id) as charge_id,
        store_charges.charge_id as store_charge_id,
        linked.*
    from linked
    left join store_charges
        on linked.store_appointment_id = store_charges.appointment_id
        and linked.cpt_code = store_charges.cpt_code
        and linked.line_rank = store_charges.line_rank
)

select * from final
