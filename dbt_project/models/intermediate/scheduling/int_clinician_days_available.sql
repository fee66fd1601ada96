{#- Slots offered and booked per clinician and practice-local day, from the first appointment through four
    weeks ahead (the capacity view plans the coming weeks). Holidays and time off are not in the store, so a
    day of availability with nothing booked counts as open capacity. -#}
{{ config(materialized='table') }}

with

periods as (
    select * from {{ ref('int_periods_enumerated') }}
),

slots as (
    select * from {{ ref('int_availability_slots_expanded') }}
),

appointments as (
    select * from {{ ref('fct_appointments') }}
),

bounds as (
    select
        min(period_start) as first_date,
        {{ as_of_date() }} as today
    from periods
    where period_grain = 'day'
),

offsets as (
    {{ dbt.generate_series(8192) }}
),

days as (
    select cast(bounds.first_date + cast(offsets.generated_number - 1 as integer) as date) as calendar_date
    from bounds
    cross join offsets
    where bounds.first_date + cast(offsets.generated_number - 1 as integer) <= bounds.today + 27
),

weekdays as (
    select
        calendar_date,
        cast(extract(isodow from calendar_date) as integer) - 1 as weekday
    from days
),

offered as (
    select
        slots.clinician_id,
        weekdays.calendar_date,
        count(*) as available_slots,
        sum(case when slots.is_prime_time then 1 else 0 end) as available_prime_slots
    from weekdays
    inner join slots
        on weekdays.weekday = slots.weekday
        and slots.effective_from_date <= weekdays.calendar_date
        and (slots.effective_to_date is null or slots.effective_to_date >= weekdays.calendar_date)
    group by 1, 2
),

booked as (
    select
        clinician_id,
        appointment_date as calendar_date,
        count(*) as booked_slots,
        sum(
            case
                when weekday in ({{ var('prime_time_weekdays', [0, 1, 2, 3]) | join(', ') }})
                    and start_minute >= {{ var('prime_time_start_hour', 9) }} * 60
                    and start_minute < {{ var('prime_time_end_hour', 17) }} * 60
                    then 1
                else 0
            end
        ) as booked_prime_slots
    from appointments
    where is_slot_booked
    group by 1, 2
),

final as (
    select
        coalesce(offered.clinician_id, booked.clinician_id) as clinician_id,
        coalesce(offered.available_slots, 0) as available_slots,
        coalesce(offered.available_prime_slots, 0) as available_prime_slots,
        coalesce(booked.booked_slots, 0) as booked_slots,
        coalesce(booked.booked_prime_slots, 0) as booked_prime_slots,
        coalesce(offered.calendar_date, booked.calendar_date) as calendar_date
    from offered
    full outer join booked
        on offered.clinician_id = booked.clinician_id
        and offered.calendar_date = booked.calendar_date
    where coalesce(offered.calendar_date, booked.calendar_date) between (select bounds.first_date from bounds)
        and (select bounds.today + 27 from bounds)
)

select * from final
