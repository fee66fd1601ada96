{#- One row per active client whose required consent (informed, guardian for minors, telehealth for telehealth
    clients) is not current today, or is current but runs out within INFORMED_CONSENT.reminder_days_before days.
    Who needs which consent and what "current" means come from int_client_consents_by_period, the rows the three
    consent measures count, so the clients named here are exactly those the measures count as not compliant today. -#}
with

consent_status as (
    select * from {{ ref('int_client_consents_by_period') }}
    where period_grain = 'month' and is_current_period
),

params as (
    select {{ rule_value('INFORMED_CONSENT', 'reminder_days_before') }} as reminder_days
),

staged as (
    select
        s.*,
        case
            when s.consent_type = 'INFORMED' and s.has_current_consent then 'INFORMED_CONSENT_EXPIRING'
            when s.consent_type = 'INFORMED' then 'INFORMED_CONSENT_EXPIRED'
            when s.consent_type = 'GUARDIAN' then 'MINOR_WITHOUT_GUARDIAN_CONSENT'
            else 'TELEHEALTH_WITHOUT_CONSENT'
        end as alert_type
    from consent_status as s
    cross join params as p
    where not s.has_current_consent
        or (
            s.consent_type = 'INFORMED'
            and s.current_until_date <= s.as_of_date + cast(p.reminder_days as integer)
        )
),

final as (
    select
        lower(alert_type) || ':client:' || cast(client_id as varchar) as alert_key,
        'GEORGIA_RULE' as rule_source,
        alert_type,
        case when has_current_consent then 'INFO' else 'CRITICAL' end as severity,
        clinician_id as target_user_id,
        cast(null as varchar) as target_role,
        consent_type in ('GUARDIAN', 'TELEHEALTH') as is_supervisor_escalated,
        false as is_admin_escalated,
        'client' as entity_type,
        client_id as entity_id,
        case
            when has_current_consent
                then 'Informed consent of client #' || cast(client_id as varchar)
                    || ' expires on ' || cast(current_until_date as varchar)
            when consent_type = 'INFORMED' and last_lapsed_date is not null
                then 'Informed consent of client #'
                    || cast(client_id as varchar) || ' lapsed on ' || cast(last_lapsed_date as varchar)
            when consent_type = 'INFORMED'
                then 'Active client #' || cast(client_id as varchar)
                    || ' has no informed consent on file'
            when consent_type = 'GUARDIAN'
                then 'Minor client #' || cast(client_id as varchar)
                    || ' has no current parent/guardian consent'
            else 'Client #' || cast(client_id as varchar) || ' has telehealth sessions but no current telehealth consent'
        end as message,
        case
            when has_current_consent then 'Have the client renew the informed consent before it expires'
            when consent_type = 'INFORMED' then 'Renew the informed consent: booking is blocked until it is signed'
            when consent_type = 'GUARDIAN'
                then 'Obtain guardian consent: appointments cannot be booked for a minor without it'
            else 'Obtain a separate telehealth consent before the next telehealth session'
        end as action_required,
        coalesce(current_until_date, last_lapsed_date, as_of_date) as due_date
    from staged
)

select * from final
