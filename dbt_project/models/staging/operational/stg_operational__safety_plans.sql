with

source as (
    select * from {{ source('operational', 'safety_plans') }}
),

renamed as (
    select
        id as safety_plan_id,
        client_id,
        clinician_id,
        note_id,
        effective_date,
        review_due_date,
        superseded_date
    from source
)

select * from renamed
