with

source as (
    select * from {{ source('operational', 'compliance_rules') }}
),

renamed as (
    select
        id as compliance_rule_id,
        upper(trim(rule_type)) as rule_type,
        lower(trim(parameter)) as parameter,
        upper(trim(license_type)) as license_type,
        description as rule_description,
        cast(value as numeric(12, 2)) as rule_value,
        is_active,
        created_at,
        updated_at
    from source
)

select * from renamed
