{#- The capacity-planning view: per clinician and Monday-start week, what the availability template offers
    against what is booked, for past weeks and the four weeks already on the books. -#}
with

days as (
    select * from {{ ref('int_clinician_days_available') }}
),

clinicians as (
    select * from {{ ref('dim_clinicians') }}
),

weekly as (
    select
        clinician_id,
        {{ week_start('calendar_date') }} as week_start,
        sum(available_slots) as available_slots,
        sum(booked_slots) as booked_slots,
        sum(available_prime_slots) as available_prime_slots,
        sum(booked_prime_slots) as booked_prime_slots
    from days
    group by 1, 2
),

final as (
    select
        weekly.clinician_id,
        weekly.available_slots,
        weekly.booked_slots,
        case when weekly.available_slots > weekly.booked_slots then weekly.available_slots - weekly.booked_slots else 0 end
            as open_slots,
        weekly.available_prime_slots,
        weekly.booked_prime_slots,
        clinicians.weekly_session_target,
        {{ safe_pct('weekly.booked_slots', 'weekly.available_slots') }} as fill_rate_pct,
        weekly.week_start
    from weekly
    left join clinicians on weekly.clinician_id = clinicians.clinician_id
)

select * from final
