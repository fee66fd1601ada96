with

source as (
    select * from {{ source('operational', 'clinician_availability') }}
),

renamed as (
    select
        id as clinician_availability_id,
        clinician_id,
        weekday,
        -- Minutes after local midnight: both warehouses extract hours and minutes from a time the same way.
        cast(extract(hour from start_time) * 60 + extract(minute from start_time) as integer) as start_minute,
        cast(extract(hour from end_time) * 60 + extract(minute from end_time) as integer) as end_minute,
        slot_minutes,
        effective_from as effective_from_date,
        effective_to as effective_to_date
    from source
)

select * from renamed
