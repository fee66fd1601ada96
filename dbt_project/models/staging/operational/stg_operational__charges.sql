with

source as (
    select * from {{ source('operational', 'charges') }}
),

renamed as (
    select
        id as charge_id,
        client_id,
        clinician_id,
        appointment_id,
        note_id,
        claim_id,
        created_by as created_by_user_id,
        upper(trim(cpt_code)) as cpt_code,
        upper(trim(modifiers)) as modifiers,
        upper(trim(status)) as charge_status,
        units,
        cast(charge_amount as numeric(12, 2)) as charge_amount,
        cast(payment_amount as numeric(12, 2)) as payment_amount,
        cast(adjustment_amount as numeric(12, 2)) as adjustment_amount,
        cast(patient_responsibility_amount as numeric(12, 2)) as patient_responsibility_amount,
        is_billing_hold,
        service_date,
        -- `created_at` is when the charge was entered (charge entry lag starts from the service date).
        cast({{ to_local('created_at') }} as date) as entered_date,
        created_at as entered_at,
        updated_at
    from source
)

select * from renamed
