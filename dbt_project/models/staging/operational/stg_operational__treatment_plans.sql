with

source as (
    select * from {{ source('operational', 'treatment_plans') }}
),

renamed as (
    select
        id as treatment_plan_id,
        client_id,
        clinician_id,
        note_id,
        effective_date,
        review_due_date,
        reviewed_date,
        superseded_date
    from source
)

select * from renamed
