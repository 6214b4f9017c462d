{#
    Tables that keep every period (var period_columns) are tested on the
    period being built: a day's tests then cost the same on day 1 and on day
    300. Every data test carries where: "__period__" (dbt_project.yml), which
    this override of dbt's get_where_subquery turns into the table's period
    filter, or into no filter for a table that is rebuilt per period.
#}
{% macro period_filter(identifier) -%}
    {%- set spec = var('period_columns', {}).get(identifier) -%}
    {%- if spec is none -%}
        {{ return(none) }}
    {%- elif spec == 'run_scope' -%}
        {{ return(in_run_scope()) }}
    {%- endif -%}
    {%- set kind, column = spec.split(':') -%}
    {%- if kind == 'date' -%}
        {{ return(column ~ ' = ' ~ business_date()) }}
    {%- else -%}
        {{ return(in_period(column)) }}
    {%- endif -%}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where == '__period__' -%}
        {%- set where = period_filter(relation.identifier) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) as dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{# Post-hook of the periodic reports: an index on the period column, which
   the period's delete pre-hook and its tests filter on. #}
{% macro period_index() -%}
    {%- set spec = var('period_columns', {}).get(this.identifier) -%}
    {%- if spec and ':' in spec -%}
        {%- set column = spec.split(':')[1] -%}
        create index if not exists {{ this.identifier }}_{{ column }}_idx
        on {{ this }} ({{ column }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
