{#- Continuous spells of care: a completed visit keeps a client active for `active_client_window_days`
    (default 90) days; visits closer together than that join one spell. A discharge ends the spell. -#}
with

appointments as (
    select * from {{ ref('fct_appointments') }}
),

clients as (
    select * from {{ ref('stg_operational__clients') }}
),

visit_days as (
    select
        client_id,
        appointment_date
    from appointments
    where appointment_status = 'COMPLETED'
    group by 1, 2
),

flagged as (
    select
        client_id,
        appointment_date,
        case
            when lag(appointment_date) over (partition by client_id order by appointment_date)
                >= appointment_date - {{ var('active_client_window_days', 90) }}
                then 0
            else 1
        end as is_new_spell
    from visit_days
),

numbered as (
    select
        client_id,
        appointment_date,
        sum(is_new_spell) over (
            partition by client_id order by appointment_date rows between unbounded preceding and current row
        ) as spell_number
    from flagged
),

spells as (
    select
        client_id,
        spell_number,
        count(*) as visit_count,
        min(appointment_date) as first_visit_date,
        max(appointment_date) as last_visit_date
    from numbered
    group by 1, 2
),

final as (
    select
        spells.client_id,
        spells.spell_number,
        spells.visit_count,
        spells.first_visit_date as active_from_date,
        -- Exclusive end: active through the day before.
        case
            when clients.discharged_date is not null
                and clients.discharged_date >= spells.first_visit_date
                and clients.discharged_date < spells.last_visit_date + {{ var('active_client_window_days', 90) }}
                then clients.discharged_date
            else cast(spells.last_visit_date + {{ var('active_client_window_days', 90) }} as date)
        end as active_until_date,
        spells.last_visit_date
    from spells
    left join clients on spells.client_id = clients.client_id
)

select * from final
