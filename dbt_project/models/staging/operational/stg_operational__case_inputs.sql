with

source as (
    select * from {{ source('operational', 'case_inputs') }}
),

renamed as (
    select
        id as case_input_id,
        client_id,
        contributor_id,
        upper(trim(discipline)) as discipline,
        input_date
    from source
)

select * from renamed
