with

source as (
    select * from {{ source('operational', 'breach_incidents') }}
),

renamed as (
    select
        id as breach_incident_id,
        reported_by as reported_by_user_id,
        upper(trim(severity)) as severity,
        upper(trim(category)) as category,
        cast({{ to_local('detected_at') }} as date) as detected_date,
        detected_at,
        responded_at,
        resolved_at
    from source
)

select * from renamed
