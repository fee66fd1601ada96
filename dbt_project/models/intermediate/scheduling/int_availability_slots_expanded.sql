{#- Each weekly availability block cut into its bookable slots. A slot is prime time when it starts
    inside the PRD's prime window (vars prime_time_weekdays, prime_time_start_hour, prime_time_end_hour:
    Monday-Thursday, 9 AM - 5 PM by default). -#}
with

availability as (
    select * from {{ ref('stg_operational__clinician_availabilities') }}
),

offsets as (
    {{ dbt.generate_series(288) }}
),

slots as (
    select
        availability.clinician_availability_id,
        availability.clinician_id,
        availability.weekday,
        availability.start_minute + (offsets.generated_number - 1) * availability.slot_minutes as slot_start_minute,
        availability.slot_minutes,
        availability.effective_from_date,
        availability.effective_to_date
    from availability
    inner join offsets
        on availability.start_minute + offsets.generated_number * availability.slot_minutes <= availability.end_minute
    where availability.slot_minutes > 0
),

final as (
    select
        clinician_availability_id,
        clinician_id,
        weekday,
        slot_start_minute,
        slot_minutes,
        weekday in ({{ var('prime_time_weekdays', [0, 1, 2, 3]) | join(', ') }})
        and slot_start_minute >= {{ var('prime_time_start_hour', 9) }} * 60
        and slot_start_minute < {{ var('prime_time_end_hour', 17) }} * 60
            as is_prime_time,
        effective_from_date,
        effective_to_date
    from slots
)

select * from final
