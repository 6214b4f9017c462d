{#
    on-run-start: the table the Python rule gate writes its failures into.
    It must exist before the report models read it (they join it as the
    source regreport.rule_violations), also on a first run before any gate.
    The warehouse admin creates it at setup (regreport.ddl.setup); dbt runs
    as the transform role, which may not create anything in regreport, so
    the DDL runs only when the table is missing (a development warehouse
    where dbt runs as the owner). Keep the columns in step with
    regreport.gate.DDL (tests/dbt/test_mifir_models.py checks it).
#}
{% macro create_rule_violations() -%}
    do $rule_violations$
    begin
        if to_regclass('regreport.rule_violations') is null then
            create schema if not exists regreport;
            create table regreport.rule_violations (
                execution_id bigint not null,
                rule_code text not null,
                severity text not null,
                field text,
                trading_date date not null,
                extract_run_id text,
                detected_at timestamptz not null default now(),
                primary key (execution_id, rule_code)
            );
        end if;
    end
    $rule_violations$;
{%- endmacro %}
