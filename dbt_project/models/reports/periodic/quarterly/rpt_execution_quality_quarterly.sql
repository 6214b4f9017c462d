{{
    config(
        pre_hook="{{ delete_business_date('quarter_start') }}",
        incremental_strategy='append',
    )
}}

{# Execution quality of a calendar quarter, for the best-execution committee's
   regular and rigorous review (FINRA Rule 5310.09: at least quarterly): the
   monthly Rule 605 measures over the whole quarter, computed from the daily
   facts, not averaged from the months (macros/execution_quality.sql). #}
{{ execution_quality_summary('quarter_start') }}
