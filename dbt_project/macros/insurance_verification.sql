{#-
    appointments_insurance_verified(appointments_cte)
        CTEs ending in `appointments_insurance_verified`: one row per appointment of `appointments_cte` (which
        must carry appointment_id, client_id, clinician_id, appointment_date, start_at) with
          is_self_pay                 the client is marked self-pay (store's current flag; no history is kept)
          has_policy_in_effect        a policy of the client is in effect on the appointment date
          has_valid_verification      a VERIFIED eligibility check made at or before the start and not expired at
                                      it (no expiry = still valid): the store's checks, and AdvancedMD's eligibility
                                      answers (270/271) that found the coverage ACTIVE, each valid for
                                      var eligibility_check_valid_days (AdvancedMD gives no expiry), whichever
                                      system is billing's record (a check made is a check made)
          is_insurance_verified       PRD data-quality rule 5: verified before the appointment, or self-pay
        The one definition of "appointment with verified insurance" the verification measures read.
-#}
{% macro appointments_insurance_verified(appointments_cte) %}
verification_clients as (
    select * from {{ ref('dim_clients') }}
),

verification_policies as (
    select * from {{ ref('stg_operational__insurance_policies') }}
),

verification_checks as (
    select
        client_id,
        verified_at,
        expires_at
    from {{ ref('stg_operational__insurance_verifications') }}
    where verification_status = 'VERIFIED'
    union all
    select
        verification_patient_links.client_id,
        verification_answers.checked_at as verified_at,
        verification_answers.checked_at + {{ var('eligibility_check_valid_days') }} * interval '1 day' as expires_at
    from {{ ref('stg_advancedmd__eligibility') }} as verification_answers
    inner join {{ ref('stg_operational__advancedmd_patients') }} as verification_patient_links
        on verification_answers.office_key = verification_patient_links.office_key
        and verification_answers.advancedmd_patient_id = verification_patient_links.advancedmd_patient_id
    where verification_answers.eligibility_status = 'ACTIVE'
        and verification_patient_links.client_id is not null
),

verification_timeline as (
    -- Appointments and checks of a client in time order; a check at the same instant comes first. A running
    -- max of the checks' validity avoids a per-appointment scan of every check.
    select
        client_id,
        cast(null as bigint) as appointment_id,
        verified_at as event_at,
        0 as event_order,
        coalesce(expires_at, cast('9999-12-31' as timestamp)) as valid_until
    from verification_checks
    union all
    select
        client_id,
        appointment_id,
        start_at as event_at,
        1 as event_order,
        cast(null as timestamp) as valid_until
    from {{ appointments_cte }}
),

verification_coverage as (
    select
        appointment_id,
        max(valid_until) over (
            partition by client_id order by event_at, event_order
            rows between unbounded preceding and current row
        ) as latest_valid_until
    from verification_timeline
),

-- A join, not an EXISTS in the select list: PostgreSQL runs such a subquery once per appointment (a scan of every
-- policy each: hours on the 1,000-clinician practice), DuckDB decorrelates it.
verification_policies_in_effect as (
    select distinct appointments.appointment_id
    from {{ appointments_cte }} as appointments
    inner join verification_policies
        on appointments.client_id = verification_policies.client_id
        and verification_policies.effective_date <= appointments.appointment_date
        and (verification_policies.termination_date is null
            or verification_policies.termination_date >= appointments.appointment_date)
),

appointments_insurance_verified as (
    select
        appointments.appointment_id,
        appointments.client_id,
        appointments.clinician_id,
        appointments.appointment_date,
        coalesce(verification_clients.is_self_pay, false) as is_self_pay,
        verification_policies_in_effect.appointment_id is not null as has_policy_in_effect,
        coalesce(verification_coverage.latest_valid_until >= appointments.start_at, false) as has_valid_verification,
        coalesce(verification_clients.is_self_pay, false)
            or coalesce(verification_coverage.latest_valid_until >= appointments.start_at, false)
            as is_insurance_verified
    from {{ appointments_cte }} as appointments
    left join verification_clients on appointments.client_id = verification_clients.client_id
    left join verification_coverage
        on appointments.appointment_id = verification_coverage.appointment_id
    left join verification_policies_in_effect
        on appointments.appointment_id = verification_policies_in_effect.appointment_id
)
{% endmacro %}
