{#
    Layers land in schemas named after the layer (staging, intermediate, marts,
    reports) rather than dbt's default `<target>_<layer>`: report tables have
    stable names that the renderer, GX and auditors can rely on.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
