{#- The day grain behind fct_clinician_capacity_weekly, for pages that plan the rest of a week (slots left). -#}
with

days as (
    select * from {{ ref('int_clinician_days_available') }}
),

final as (
    select
        clinician_id,
        calendar_date,
        available_slots,
        booked_slots,
        available_prime_slots,
        booked_prime_slots
    from days
)

select * from final
