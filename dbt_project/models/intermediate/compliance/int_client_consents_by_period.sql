{#- One row per week or month, client who needs a consent on its as-of date, and consent type: INFORMED for every
    active client, GUARDIAN for active minors (emancipated minors excepted), TELEHEALTH for active clients with a
    completed telehealth session by then. `has_current_consent` is the single definition the consent measures count
    and the consent alerts raise on (rows of the running period).
    Minor on the as-of date = a minor (under MINOR_CONSENT.adult_age_years, computed in the store, which keeps the
    date of birth) on the latest completed visit on or before it; an active client always has one. The Georgia rule
    is about seeing a minor, so a client who turns 18 after their last visit counts as a minor until the next one.
    An unknown date of birth counts as adult (and fails complete demographics). -#}
{#- By period like the measures, and recomputed with them: only the window's periods (macros/metric_window.sql). -#}
{{ config(materialized='incremental', incremental_strategy='period_window', on_schema_change='fail') }}

with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
    where {{ metric_window_condition('period_start') }}
),

consents as (
    select * from {{ ref('int_consents_with_validity') }}
),

appointments as (
    select * from {{ ref('fct_appointments') }}
),

-- One flag per visit day: every visit of a day has the same one (the store computes it from the local date).
visit_days as (
    select
        client_id,
        appointment_date,
        max(case when is_minor_on_date then 1 else 0 end) as is_minor
    from appointments
    where is_kept
    group by 1, 2
),

visit_days_until_next as (
    select
        client_id,
        appointment_date,
        is_minor,
        lead(appointment_date) over (partition by client_id order by appointment_date) as next_visit_date
    from visit_days
),

minors as (
    select
        active_clients.period_grain,
        active_clients.period_start,
        active_clients.client_id
    from active_clients
    inner join visit_days_until_next as latest_visit
        on active_clients.client_id = latest_visit.client_id
        and latest_visit.appointment_date <= active_clients.as_of_date
        and (latest_visit.next_visit_date is null or latest_visit.next_visit_date > active_clients.as_of_date)
    where latest_visit.is_minor = 1
),

first_telehealth as (
    select
        client_id,
        min(appointment_date) as first_telehealth_date
    from appointments
    where is_kept and is_telehealth
    group by 1
),

required as (
    select
        active_clients.*,
        'INFORMED' as consent_type
    from active_clients

    union all

    select
        active_clients.*,
        'GUARDIAN' as consent_type
    from active_clients
    inner join minors
        on active_clients.period_grain = minors.period_grain
        and active_clients.period_start = minors.period_start
        and active_clients.client_id = minors.client_id
    where not active_clients.is_emancipated

    union all

    select
        active_clients.*,
        'TELEHEALTH' as consent_type
    from active_clients
    inner join first_telehealth
        on active_clients.client_id = first_telehealth.client_id
        and first_telehealth.first_telehealth_date <= active_clients.as_of_date
),

signed_by_then as (
    select
        required.period_grain,
        required.period_start,
        required.client_id,
        required.consent_type,
        max(case
            when consents.current_until_date is null or consents.current_until_date > required.as_of_date then 1 else 0
        end) as is_current,
        -- Open-ended (null) sorts as the far future: the consent that stays current longest.
        max(case
            when consents.current_until_date > required.as_of_date then consents.current_until_date
        end) as latest_current_until_date,
        max(case when consents.current_until_date is null then 1 else 0 end) as has_open_ended,
        max(case
            when consents.current_until_date <= required.as_of_date then consents.current_until_date
        end) as last_lapsed_date
    from required
    inner join consents
        on required.client_id = consents.client_id
        and required.consent_type = consents.consent_type
        and consents.signed_date <= required.as_of_date
    group by 1, 2, 3, 4
),

final as (
    select
        required.period_grain,
        required.period_start,
        required.as_of_date,
        required.is_current_period,
        required.client_id,
        required.clinician_id,
        required.consent_type,
        coalesce(signed_by_then.is_current, 0) = 1 as has_current_consent,
        signed_by_then.client_id is not null as has_signed_consent,
        case
            when signed_by_then.has_open_ended = 1 then null
            else signed_by_then.latest_current_until_date
        end as current_until_date,
        signed_by_then.last_lapsed_date
    from required
    left join signed_by_then
        on required.period_grain = signed_by_then.period_grain
        and required.period_start = signed_by_then.period_start
        and required.client_id = signed_by_then.client_id
        and required.consent_type = signed_by_then.consent_type
)

select * from final
