with

source as (
    select * from {{ source('operational', 'performance_goals') }}
),

renamed as (
    select
        id as performance_goal_id,
        user_id,
        lower(trim(metric_key)) as metric_key,
        upper(trim(status)) as goal_status,
        cast(target_value as numeric(12, 2)) as target_value,
        start_date,
        end_date,
        created_at,
        updated_at
    from source
)

select * from renamed
