{#
    on-run-start: the table the Python rule gate writes its failures into.
    It must exist before the report models read it (they join it as the
    source regreport.rule_violations), also on a first run before any gate.
    Idempotent; dbt never drops or rewrites it.
#}
{% macro create_rule_violations() -%}
    create schema if not exists regreport;
    create table if not exists regreport.rule_violations (
        execution_id bigint not null,
        rule_code text not null,
        severity text not null,
        field text,
        trading_date date not null,
        extract_run_id text,
        detected_at timestamptz not null default now(),
        primary key (execution_id, rule_code)
    );
{%- endmacro %}
