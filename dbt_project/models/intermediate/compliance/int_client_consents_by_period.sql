{#- One row per week or month, client who needs a consent on its as-of date, and consent type: INFORMED for every
    active client, GUARDIAN for active minors (under MINOR_CONSENT.adult_age_years, emancipated minors excepted),
    TELEHEALTH for active clients with a completed telehealth session by then. `has_current_consent` is the
    single definition the consent measures count and the consent alerts raise on (rows of the running period). -#}
{{ config(materialized='table') }}

with

active_clients as (
    select * from {{ ref('int_active_clients_by_period') }}
),

consents as (
    select * from {{ ref('int_consents_with_validity') }}
),

appointments as (
    select * from {{ ref('fct_appointments') }}
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
    select active_clients.*, 'INFORMED' as consent_type
    from active_clients

    union all

    select active_clients.*, 'GUARDIAN' as consent_type
    from active_clients
    where not active_clients.is_emancipated
        and cast({{ dbt.dateadd(
            'year',
            'cast(' ~ rule_value('MINOR_CONSENT', 'adult_age_years') ~ ' as integer) - 18',
            'active_clients.adult_on_date'
        ) }} as date) > active_clients.as_of_date

    union all

    select active_clients.*, 'TELEHEALTH' as consent_type
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
