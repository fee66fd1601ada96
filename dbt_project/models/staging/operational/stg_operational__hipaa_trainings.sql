with

source as (
    select * from {{ source('operational', 'hipaa_trainings') }}
),

renamed as (
    select
        id as hipaa_training_id,
        user_id,
        completed_date,
        expires_date
    from source
)

select * from renamed
