{{
    config(
        pre_hook="{{ delete_business_date('month_start') }}",
        incremental_strategy='append',
    )
}}

{# Execution quality of a calendar month in the manner of SEC Rule 605
   (macros/execution_quality.sql). #}
{{ execution_quality_summary('month_start') }}
